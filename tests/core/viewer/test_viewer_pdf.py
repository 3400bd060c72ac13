"""PDF reports for the report panel: a PDF file from a CD and a DICOM Encapsulated PDF, read
from the library and rendered as pages by PDFium; damaged ones are named, not shown."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "library"))

from library_dicomgen import ct_series


def _pdf_text(text: str, pages: int = 1) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=20)
        pdf.cell(text=f"{text} {n + 1}")
    return bytes(pdf.output())


def test_a_pdf_from_the_cd_is_kept_and_rendered(tmp_path: Path) -> None:
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions
    from ownscan.core.reports import read_pdf, render_pdf
    from ownscan.core.viewer import entries_from_library

    cd = tmp_path / "cd"
    ct_series(cd / "DICOM", 2, size=16)
    (cd / "REPORT.PDF").write_bytes(_pdf_text("Findings: unremarkable", pages=2))
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(cd))
        assert lib.import_items(imp.iter_items(str(cd), ImportOptions())).ok
        (entry,) = entries_from_library(lib)
        docs = entry.documents
        assert docs is not None
        ((kind, _title, path),) = docs.reports
        assert kind == "pdf"
        title, data = read_pdf(kind, path)
        pages = render_pdf(data, 300, title, path)
    assert pages.total == 2 and len(pages.pages) == 2
    assert pages.pages[0].shape[1] == 300 and pages.pages[0].dtype == np.uint8
    assert (pages.pages[0] < 128).any() and (pages.pages[0] == 255).mean() > 0.9  # ink, paper
    assert "Findings: unremarkable 1" in pages.text and "unremarkable 2" in pages.text


def test_damaged_pdfs_are_named(tmp_path: Path) -> None:
    from ownscan.core.reports import PdfError, read_pdf, render_pdf

    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_bytes(b"hello")
    with pytest.raises(PdfError, match=r"notes\.pdf: not a PDF"):
        read_pdf("pdf", str(not_pdf))
    with pytest.raises(PdfError, match=r"missing\.pdf"):
        read_pdf("pdf", str(tmp_path / "missing.pdf"))
    with pytest.raises(PdfError, match=r"report\.dcm"):
        read_pdf("dicom-pdf", str(not_pdf.with_name("report.dcm")))
    cut = _pdf_text("cut short")[:60]
    with pytest.raises(PdfError, match=r"cut\.pdf: cannot open the PDF"):
        render_pdf(cut, 200, name="cut.pdf")


def test_long_pdfs_show_their_first_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from ownscan.core.reports import _pdf

    monkeypatch.setattr(_pdf, "MAX_PAGES", 2)
    pages = _pdf.render_pdf(_pdf_text("page", pages=3), 100)
    assert pages.total == 3 and len(pages.pages) == 2 and "page 3" not in pages.text
