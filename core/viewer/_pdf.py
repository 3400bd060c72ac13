"""PDF reports as pages: pypdfium2 (PDFium's Python binding) renders each page to pixels,
which the report panel shows as textures; the pages' text feeds the glossary."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError

__all__ = ["PdfError", "PdfPages", "read_pdf", "render_pdf"]

log = logging.getLogger(__name__)

MAX_PAGES = 30  # a report longer than this shows its first pages and says how many are left


class PdfError(OwnscanError):
    """A PDF that cannot be read (the message names the file)."""


@dataclass(frozen=True)
class PdfPages:
    """A PDF rendered: ``pages`` RGB ``(height, width, 3)`` uint8 at ``width`` pixels wide,
    ``text`` the text of every page, ``total`` the page count (more than ``pages`` when the
    document is longer than :data:`MAX_PAGES`)."""

    title: str
    pages: tuple[npt.NDArray[np.uint8], ...]
    text: str
    total: int


def read_pdf(kind: str, path: str) -> tuple[str, bytes]:
    """``(title, PDF bytes)`` of a library document: a PDF file as is, or the PDF inside a
    DICOM Encapsulated PDF (``kind`` ``dicom-pdf``).

    Raises
    ------
    PdfError
        The file is missing or holds no PDF.
    """
    from ownscan.core.reports import ReportError, encapsulated_pdf

    try:
        if kind == "dicom-pdf":
            return encapsulated_pdf(path)
        data = Path(path).read_bytes()
    except (OSError, ReportError) as exc:
        raise PdfError(f"{path}: {exc}") from exc
    if not data.startswith(b"%PDF-"):
        raise PdfError(f"{path}: not a PDF")
    return Path(path).stem, data


def render_pdf(data: bytes, width: int, title: str = "", name: str = "PDF") -> PdfPages:
    """Render the pages of a PDF ``width`` pixels wide (aspect kept), white paper.

    Raises
    ------
    PdfError
        PDFium cannot open the document (damaged, encrypted); ``name`` names it.
    """
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"{name}: cannot open the PDF ({exc})") from exc
    try:
        total = len(doc)
        pages: list[npt.NDArray[np.uint8]] = []
        texts: list[str] = []
        for i in range(min(total, MAX_PAGES)):
            page = doc[i]
            w_pt = page.get_width()
            scale = width / w_pt if w_pt > 0 else 1.0
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
            rgb = np.ascontiguousarray(bitmap.to_numpy()[..., :3])
            if bitmap.mode in ("BGR", "BGRA", "BGRX"):  # PDFium's native byte order
                rgb = np.ascontiguousarray(rgb[..., ::-1])
            pages.append(rgb.astype(np.uint8, copy=False))
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        doc.close()
    return PdfPages(title, tuple(pages), "\n".join(texts), total)
