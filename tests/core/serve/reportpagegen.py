"""A library for the page's overlay, PDF page and displayed-area tests
(``test_serve_report_pages.py``, ``test_browser_report_pages.py``), made by ``ownscan import``
from generated files: pagegen.py's marked CT of Jane Doe (4 images 64 x 64, 0.5 mm pixels,
slices at z = 0..3 mm, a presentation state zoomed to the middle half, pixels 17..48) with

- an overlay plane (6000) on image 2: 16 x 16 bits whose top left bit lies on pixel (row 17,
  column 25), set in the block of bit rows 3..10 and columns 5..14, so image rows 19..26 and
  columns 29..38 (0-based) are covered (a block wider than tall: a transposition shows);
- a DICOM Encapsulated PDF of two pages, the first red (the title in red on white), and a
  damaged one (a PDF header, then nothing PDFium can read).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OVERLAY_ORIGIN = (17, 25)  # (row, column), 1-based as DICOM writes it
OVERLAY_SHAPE = (16, 16)
OVERLAY_BLOCK = ((3, 10), (5, 14))  # bit rows, bit columns (inclusive, 0-based)
# the image pixels the block covers (0-based rows, columns; inclusive)
COVERED = (
    (OVERLAY_ORIGIN[0] - 1 + OVERLAY_BLOCK[0][0], OVERLAY_ORIGIN[0] - 1 + OVERLAY_BLOCK[0][1]),
    (OVERLAY_ORIGIN[1] - 1 + OVERLAY_BLOCK[1][0], OVERLAY_ORIGIN[1] - 1 + OVERLAY_BLOCK[1][1]),
)
PIXEL_MM = 0.5  # library_dicomgen.ct_series
RED = (220, 0, 0)


def add_overlay(path: Path) -> None:
    """Write the overlay plane of the module docstring into the image at ``path``."""
    import pydicom

    bits = np.zeros(OVERLAY_SHAPE, np.uint8)
    (r0, r1), (c0, c1) = OVERLAY_BLOCK
    bits[r0 : r1 + 1, c0 : c1 + 1] = 1
    ds = pydicom.dcmread(path)
    ds.add_new(0x60000010, "US", OVERLAY_SHAPE[0])
    ds.add_new(0x60000011, "US", OVERLAY_SHAPE[1])
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", list(OVERLAY_ORIGIN))
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60000022, "LO", "block")
    ds.add_new(0x60003000, "OW", np.packbits(bits.ravel(), bitorder="little").tobytes())
    ds.save_as(path, enforce_file_format=True)


def red_pdf(pages: int = 2) -> bytes:
    """A PDF whose first page says IMPRESSION in large red letters."""
    from fpdf import FPDF

    pdf = FPDF()
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=40)
        pdf.set_text_color(*RED) if n == 0 else pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(0, 20, text="IMPRESSION\nHypodense lesion" if n == 0 else f"Page {n + 1}")
    return bytes(pdf.output())


def _pdf_document(path: Path, study: str, title: str, data: bytes) -> None:
    import pydicom
    from library_dicomgen import encapsulated_pdf

    encapsulated_pdf(path, study, patient=("Doe^Jane", "P1"))
    ds = pydicom.dcmread(path)
    ds.DocumentTitle = title
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.save_as(path, enforce_file_format=True)


def make_sources(root: Path) -> Path:
    """The files of the module docstring under ``root/src``; returns that folder."""
    from pagegen import write_marked_ct

    src = root / "src"
    images = write_marked_ct(src / "stanne")
    add_overlay(Path(images[1].filename))
    study = images[0].StudyInstanceUID
    _pdf_document(src / "stanne" / "docs" / "pdf.dcm", study, "Radiology report", red_pdf())
    damaged = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> broken beyond repair\n"
    _pdf_document(src / "stanne" / "docs" / "bad.dcm", study, "Damaged report", damaged)
    return src


def make_library(root: Path) -> Path:
    """The sources imported by ``ownscan import`` into ``root/library``; returns it."""
    return import_sources(make_sources(root), root / "library")


def import_sources(src: Path, library: Path) -> Path:
    """``src`` imported by ``ownscan import`` into ``library``; returns it."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(library)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return library
