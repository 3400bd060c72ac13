"""Reports and marks: SR text against dcmtk's dsrdump, KOS/GSPS/SCOORD records against what
highdicom wrote, HTML/PDF output, PDF extraction, the glossary and ``ownscan report``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import reportgen as gen

from ownscan.core.reports import (
    ReportError,
    explain_terms,
    glossary,
    read_marks,
    read_report,
    report_html,
    report_lines,
    report_text,
    write_report_pdf,
)
from ownscan.core.text import escape_controls

sys.path.insert(0, str(Path(__file__).parent.parent / "library"))
from library_dicomgen import PDF, encapsulated_pdf
from test_library_cli import ownscan

FINDINGS = "A 2 cm hypodense lesion in the liver.\nNo ground-glass opacity."
IMPRESSION = "T2 hyperintense nodule, otherwise unremarkable."


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("study")
    images = gen.ct_images(d / "ct")
    return {
        "dir": d,
        "images": images,
        "measurements": gen.measurement_report(images, d / "sr.dcm"),
        "kos": gen.key_objects(images, d / "ko.dcm"),
        "gsps": gen.presentation_state(images, d / "pr.dcm"),
        "text": gen.text_report(images, d / "text.dcm", findings=FINDINGS, impression=IMPRESSION),
    }


_DSR_LINE = re.compile(
    r"^(?P<indent> *)<(?:(?P<rel>[a-z ]+?) )?"
    r'(?:(?P<vt>[A-Z0-9]+):(?:\(,,"(?P<name>[^"]*)"\))?(?:=(?P<value>.*?))?|(?P<ref>[0-9.]+))>'
    r"(?: \{[^}]*\})?$"
)


def _dsrdump(path: Path) -> list[tuple[int, str, str, str, str]]:
    """(depth, relationship, value type, concept name, value) of every item, as dcmtk reads
    them (the root container left out; an item by reference has type REFERENCE and its
    position as value)."""
    # dsrdump writes the file's own bytes: UTF-8 for ISO_IR 192, else the default Latin-1
    charset = pydicom.dcmread(path, stop_before_pixels=True).get("SpecificCharacterSet", "")
    encoding = "utf-8" if "ISO_IR 192" in str(charset) else "latin-1"
    out = subprocess.run(
        ["dsrdump", "-Ph", "+Pl", "+Pu", str(path)], capture_output=True, check=True
    ).stdout.decode(encoding)
    items = []
    for line in filter(None, out.splitlines()):
        m = _DSR_LINE.match(line)
        assert m, f"dsrdump line not understood: {line!r}"
        depth = len(m["indent"]) // 2
        if m["ref"]:
            items.append((depth, (m["rel"] or "").upper(), "REFERENCE", "", m["ref"]))
        else:
            items.append(
                (depth, (m["rel"] or "").upper(), m["vt"], m["name"] or "", m["value"] or "")
            )
    assert items, out
    return items[1:]


def _unescape(value: str) -> str:
    """dsrdump's quoted text as the text itself (it writes CR and LF as \\r and \\n)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace("\\r", "\r").replace("\\n", "\n")


def _agrees(item, value: str) -> bool:  # type: ignore[no-untyped-def]
    """Does our item say what dsrdump says?"""
    vt = item.value_type
    if vt in ("TEXT", "PNAME", "UIDREF", "TIME", "DATETIME"):
        return item.text == _unescape(value).strip()
    if vt == "DATE":
        return item.text.replace("-", "") == _unescape(value)
    if vt == "NUM":
        return value.startswith(f'"{item.number:g}" ({item.unit},')
    if vt == "CODE":
        return value == f'({item.code.value},{item.code.scheme},"{item.code.meaning}")'
    if vt == "SCOORD":
        pts = ",".join(f"{x:g}/{y:g}" for x, y in item.points)
        return value == f"({item.graphic_type},{pts})"
    if vt == "SCOORD3D":
        pts = ",".join("/".join(f"{v:g}" for v in p) for p in item.points)
        return value == f'({item.graphic_type},"{item.frame_of_reference}",{pts})'
    if vt == "TCOORD":
        return value.startswith(f"({item.text.split()[0]},")
    if vt in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return bool(item.images) and all(f'"{r.sop_instance_uid}"' in value for r in item.images)
    if vt == "REFERENCE":
        return item.text == f"(see content item {value})"
    return vt == "CONTAINER"


def _compare_with_dsrdump(path: Path) -> int:
    theirs = _dsrdump(path)
    report = read_report(path)
    mine = [(d + 1, i.relationship, i.value_type, i.label, i) for d, i in report.walk()]
    assert [m[:4] for m in mine] == [t[:4] for t in theirs]
    for (*_, item), (*_, value) in zip(mine, theirs, strict=True):
        assert _agrees(item, value), (item.value_type, item.label, item.text, value)
    return len(mine)


@pytest.mark.parametrize("which", ["sr.dcm", "text.dcm"])
def test_sr_walk_matches_dsrdump(study, which):
    assert _compare_with_dsrdump(Path(study["dir"]) / which) >= 6


def test_sr_walk_matches_dsrdump_on_offis_test_report():
    """pydicom's test-SR.dcm (OFFIS's test document): unnamed containers, by-reference
    items, COMPOSITE/WAVEFORM, multi-frame image references, TCOORD, Latin-1 text with CR/LF."""
    from pydicom.data import get_testdata_file

    path = Path(str(get_testdata_file("test-SR.dcm")))
    assert _compare_with_dsrdump(path) == 28
    text = report_text(read_report(path))
    assert "Verified by: Jörg Riesmeier; Verifying Observer" in text  # as people write names
    assert "1.2.3.4.5.0 frame 5, 2" in text and "(see content item 1.3.2)" in text


def test_report_text_has_headings_measurements_and_codes(study):
    report = read_report(Path(study["dir"]) / "text.dcm")
    assert report_text(report).splitlines() == [
        "Diagnostic imaging report",
        "=========================",
        "Patient: Jane Doe (ID P1)",  # display_name, as every listing
        "Study: 2024-01-31 CT Thorax",
        "Hospital: St Anne",
        "Status: complete, unverified",
        "",
        "Findings",
        "--------",
        "  Finding: A 2 cm hypodense lesion in the liver.",
        "    No ground-glass opacity.",
        "  Length: 23.5 mm",
        "  Finding: Nodule (SCT 27925004)",
        "",
        "Impressions",
        "-----------",
        "  Impression: T2 hyperintense nodule, otherwise unremarkable.",
    ]
    measured = [i for _, i in report.walk() if i.value_type == "NUM"]
    assert (measured[0].number, measured[0].unit) == (23.5, "mm")
    page = report_html(report)
    assert "<h2" in page and "Findings</h2>" in page and "<b>Length:</b> 23.5 mm" in page


def test_pdf_holds_the_report_text(study, tmp_path):
    import pypdf

    report = read_report(Path(study["dir"]) / "text.dcm")
    out = write_report_pdf(report, tmp_path / "r.pdf", ["Über µ ≥ 3"])
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(out).pages)
    for _, kind, line in report_lines(report):
        if kind != "more":
            assert " ".join(line.split()) in " ".join(text.split()), line
    assert "Über µ ≥ 3" in text  # DejaVu keeps every character


def test_marks_of_kos_gsps_and_sr_point_at_the_images(study):
    d = Path(study["dir"])
    uids = [ds.SOPInstanceUID for ds in study["images"]]  # type: ignore[attr-defined]
    kos = read_marks(d / "ko.dcm")
    assert [r.sop_instance_uid for r in kos.key_images[0].images] == [uids[0], uids[2]]
    assert kos.key_images[0].title == "Of Interest"
    assert kos.key_images[0].description == "nodule, see image 3"

    gsps = read_marks(d / "pr.dcm")
    (window,) = gsps.windows
    assert (window.center, window.width, window.explanation) == (-600.0, 1500.0, "LUNG")
    (area,) = gsps.displayed_areas
    assert area.top_left == (1.0, 1.0) and area.bottom_right == (16.0, 16.0)
    assert [r.sop_instance_uid for r in window.images] == uids  # every referenced image
    text, line, circle, arrow = gsps.annotations
    assert (arrow.shape, arrow.points) == ("ARROW", ((14.0, 3.0), (9.0, 7.0)))
    assert (text.shape, text.text, text.points, text.anchor) == (
        "TEXT",
        "nodule",
        ((1.0, 12.0), (9.0, 15.0)),
        (8.0, 8.0),
    )
    assert (line.shape, line.points) == ("POLYLINE", ((2.0, 2.0), (7.0, 6.0)))
    assert (circle.shape, circle.points) == ("CIRCLE", ((8.0, 8.0), (11.0, 8.0)))
    assert all([r.sop_instance_uid for r in a.images] == [uids[1]] for a in gsps.annotations)
    assert gsps.for_image(uids[1]) == gsps.annotations and gsps.for_image(uids[0]) == []

    sr = read_marks(d / "sr.dcm")
    (outline,) = sr.annotations
    assert outline.source == "sr" and outline.shape == "POLYLINE"
    assert outline.points == ((4.5, 4.5), (10.5, 4.5), (10.5, 9.5), (4.5, 4.5))
    assert outline.text == "Diameter 12.5 mm"
    assert [r.sop_instance_uid for r in outline.images] == [uids[1]]
    assert not read_marks(d / "text.dcm")  # a report without coordinates marks nothing


def test_glossary_terms_found_with_sources():
    entries = glossary()
    assert len(entries) >= 30
    assert all(e.sources and all(s.url.startswith("https://") for s in e.sources) for e in entries)
    found = [(e.term, w) for e, w in explain_terms(FINDINGS + "\n" + IMPRESSION)]
    assert found == [
        ("hypodense", "hypodense"),
        ("lesion", "lesion"),
        ("ground-glass opacity", "ground-glass"),
        ("opacity", "opacity"),
        ("T1 / T2 hyperintense", "T2 hyperintense"),
        ("nodule", "nodule"),
        ("unremarkable", "unremarkable"),
    ]
    assert explain_terms("nodular? massive") == [(explain_terms("nodular")[0][0], "nodular")]


def test_escaping_and_a_damaged_report(tmp_path, study):
    assert escape_controls("red \x1b[31m bell \x07\r") == "red \\x1b[31m bell \\x07\\r"
    ds = pydicom.dcmread(Path(study["dir"]) / "text.dcm")
    ds.ContentSequence[0].ContentSequence[0].TextValue = "evil \x1b]0;title\x07 text"
    ds.save_as(tmp_path / "evil.dcm")
    assert "\x1b" not in report_text(read_report(tmp_path / "evil.dcm"))
    ds.ContentSequence[1].ContentSequence[0].TextValue = "<script>alert(1)</script>"
    ds.save_as(tmp_path / "evil.dcm")
    page = report_html(read_report(tmp_path / "evil.dcm"))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    (tmp_path / "not.dcm").write_bytes(b"hello")
    with pytest.raises(ReportError, match=r"not\.dcm"):
        read_report(tmp_path / "not.dcm")
    with pytest.raises(ReportError, match=r"ct.*not a Structured Report"):
        read_report(sorted((Path(study["dir"]) / "ct").iterdir())[0])


def test_ownscan_report_cli(study, tmp_path):
    d = Path(study["dir"])
    src = tmp_path / "src"
    shutil.copytree(d, src)
    ds = pydicom.dcmread(d / "text.dcm")
    encapsulated_pdf(src / "pdf.dcm", ds.StudyInstanceUID)
    r = ownscan(
        "report",
        src,
        "--explain",
        "--html",
        tmp_path / "r.html",
        "--pdf",
        tmp_path / "r.pdf",
        "--extract",
        tmp_path / "out",
    )
    assert r.returncode == 0, r.stderr
    assert "Impressions\n" in r.stdout and "Length: 23.5 mm" in r.stdout
    assert "hypodense: On CT" in r.stdout and "radiologyinfo.org" in r.stdout
    assert "key images (Of Interest, 2)" in r.stdout
    assert "window centre -600 width 1500 (LUNG)" in r.stdout
    assert 'polyline "Diameter 12.5 mm"' in r.stdout
    assert "PDF report Radiology report" in r.stdout
    # two SRs: r.html and r-2.html, r.pdf and r-2.pdf
    assert {p.name for p in tmp_path.glob("r*.*")} == {"r.html", "r-2.html", "r.pdf", "r-2.pdf"}
    (extracted,) = (tmp_path / "out").iterdir()
    assert extracted.read_bytes() == PDF
    again = ownscan("report", src / "text.dcm", "--html", tmp_path / "r.html")
    assert again.returncode != 0 and "exists" in again.stderr
    j = json.loads(ownscan("report", src / "pr.dcm", "--json").stdout)
    assert j["marks"]["windows"][0]["center"] == -600.0
    none = ownscan("report", src / "ct")
    assert none.returncode != 0 and "no report" in none.stderr


def test_ownscan_report_of_a_library_study(study, tmp_path):
    d = Path(study["dir"])
    lib = tmp_path / "lib"
    assert ownscan("import", d, "--library", lib).returncode == 0
    uid = str(pydicom.dcmread(d / "text.dcm").StudyInstanceUID)
    r = ownscan("report", f"library:{uid[:20]}", "--library", lib)
    assert r.returncode == 0, r.stderr
    assert "Imaging Measurement Report" in r.stdout and "Diagnostic imaging report" in r.stdout
    assert "key images (Of Interest, 2)" in r.stdout
    # the library names the flagged images by series and instance number
    assert (
        "  image series 2 (Axial 1mm) image 1\n  image series 2 (Axial 1mm) image 3\n" in r.stdout
    )
    assert (
        'polyline "Diameter 12.5 mm"' in r.stdout and "on series 2 (Axial 1mm) image 2" in r.stdout
    )
    ko_series = str(pydicom.dcmread(d / "ko.dcm").SeriesInstanceUID)
    one = ownscan("report", f"library:{ko_series}", "--library", lib)
    assert one.returncode == 0 and "Diagnostic imaging report" not in one.stdout, one.stderr
    assert "key images (Of Interest, 2)" in one.stdout
    # the person's timeline says that reports and marks are kept with the study
    from ownscan.core.library import open_library

    with open_library(lib) as library:
        (entry,) = library.timeline(library.patients()[0].key)
    assert (entry.reports, entry.marked, entry.modalities) == (2, 2, ("CT",))
    assert entry.institutions == ("St Anne",)


def test_scoord3d_measurement_is_a_mark_in_patient_mm(study, tmp_path):
    """A NUM with a SCOORD3D child (a point in patient coordinates): the mark keeps the
    millimetres, the frame of reference and the measurement it belongs to."""
    ds = pydicom.dcmread(Path(study["dir"]) / "text.dcm")
    num = gen._item("NUM", ("G-D705", "SRT", "Volume"))
    measured = pydicom.Dataset()
    measured.NumericValue = "4.2"
    measured.MeasurementUnitsCodeSequence = [gen._code("ml", "UCUM", "milliliter")]
    num.MeasuredValueSequence = [measured]
    where = gen._item(
        "SCOORD3D",
        ("111030", "DCM", "Image Region"),
        "INFERRED FROM",
        GraphicType="POINT",
        GraphicData=[-12.5, 30.0, 101.25],
        ReferencedFrameOfReferenceUID="1.2.3.4",
    )
    num.ContentSequence = [where]
    ds.ContentSequence[0].ContentSequence.append(num)
    # SCOORD3D needs the Comprehensive 3D SR class
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.34"
    ds.save_as(tmp_path / "3d.dcm")
    (mark,) = read_marks(tmp_path / "3d.dcm").annotations
    assert (mark.shape, mark.units, mark.points) == ("POINT", "MM", ((-12.5, 30.0, 101.25),))
    assert mark.frame_of_reference == "1.2.3.4" and mark.text == "Volume 4.2 ml"
    assert "Image Region: POINT at (-12.5, 30, 101.25) (patient mm)" in report_text(
        read_report(tmp_path / "3d.dcm")
    )
    assert _compare_with_dsrdump(tmp_path / "3d.dcm") == 8


def test_overlay_plane_of_a_real_siemens_mr_matches_dcmtk(pydicom_files, tmp_path):
    """The overlay bits equal the pixels dcmtk's dcm2pnm changes when it burns overlay 1 in
    (its Replace mode writes white where a bit is set)."""
    from PIL import Image

    from ownscan.core.reports import read_overlays

    path = pydicom_files["MR-SIEMENS-DICOM-WithOverlays.dcm"]
    (plane,) = read_overlays(path)
    assert (plane.group, plane.kind, plane.origin, plane.bitmap.shape) == (
        0x6000,
        "G",
        (1, 1),
        (1, 484, 484),
    )
    assert plane.description == "Siemens MedCom Object Graphics"
    pictures = {}
    for flag, out in ((["--no-overlays"], "plain.pgm"), (["--display-overlay", "1"], "ov.pgm")):
        subprocess.run(
            ["dcm2pnm", "--write-raw-pnm", "--use-window", "1", *flag, str(path), out],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        pictures[out] = np.asarray(Image.open(tmp_path / out))
    changed = pictures["plain.pgm"] != pictures["ov.pgm"]
    assert changed.sum() > 100
    assert np.array_equal(plane.bitmap[0], changed)


def test_pdf_without_dejavu_marks_lost_characters(study, tmp_path, monkeypatch):
    import pypdf

    from ownscan.core.reports import _render

    monkeypatch.setattr(_render, "_FONT_DIRS", ())  # a system without the DejaVu fonts
    report = read_report(Path(study["dir"]) / "text.dcm")
    out = write_report_pdf(report, tmp_path / "r.pdf", ["Über µ ≥ 3"])
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(out).pages).split())
    assert "Über µ ? 3" in text  # Latin-1 kept, the rest replaced...
    assert "characters outside Latin-1 are shown as '?'" in text  # ...and said so
    assert "Impression: T2 hyperintense nodule" in text
