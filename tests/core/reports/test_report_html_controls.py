"""``ownscan report --html``: control characters in what the files say (a right-to-left
override in a measurement's name) reach the page escaped, as on the terminal, never raw."""

from __future__ import annotations

import sys
from pathlib import Path

import pydicom
import pytest
import reportgen as gen

sys.path.insert(0, str(Path(__file__).parent.parent / "library"))
from test_library_cli import ownscan

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: the text after it is shown reversed


def _rename_diameter(items: pydicom.Sequence, name: str) -> bool:
    for item in items:
        if item.ValueType == "NUM" and item.ConceptNameCodeSequence[0].CodeMeaning == "Diameter":
            item.ConceptNameCodeSequence[0].CodeMeaning = name
            return True
        if "ContentSequence" in item and _rename_diameter(item.ContentSequence, name):
            return True
    return False


def test_marks_in_the_html_page_escape_control_characters(tmp_path: Path) -> None:
    images = gen.ct_images(tmp_path / "ct")
    ds = gen.measurement_report(images, tmp_path / "sr.dcm")
    assert _rename_diameter(ds.ContentSequence, f"Dia{RLO}meter <b>")
    ds.save_as(tmp_path / "sr.dcm")
    page = tmp_path / "r.html"
    r = ownscan("report", tmp_path / "sr.dcm", "--html", page)
    assert r.returncode == 0, r.stderr
    text = page.read_text(encoding="utf-8")
    marks = text[text.index("Marked on the images") :]
    # the line of marks names the measurement: escaped as the terminal shows it, HTML-safe
    assert "Dia\\u202emeter &lt;b&gt;" in marks, marks
    # (the report's own lines above are core/reports/_render.py's, tested with it)
    assert RLO not in marks and "<b>" not in marks
    assert "Dia\\u202emeter" in r.stdout  # the terminal's text: the same escape


if __name__ == "__main__":
    pytest.main([__file__])
