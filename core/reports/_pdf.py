"""PDF reports as pages, for every frontend: pypdfium2 (PDFium's Python binding) renders a
page to RGB pixels (the desktop's report panel shows them as textures, ``ownscan serve`` as
PNGs) and reads the pages' text (it feeds the glossary).

PDFium is not thread-safe, even across documents: every call that touches it here holds one
process-wide lock (:data:`PDFIUM_LOCK`), so a viewer's PDF thread and a server's worker
threads never meet inside it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.reports._sr import ReportError

__all__ = [
    "MAX_PAGES",
    "PdfError",
    "PdfPages",
    "pdf_page_sizes",
    "pdf_text",
    "read_pdf",
    "render_pdf",
    "render_pdf_page",
]

log = logging.getLogger(__name__)

MAX_PAGES = 30  # a report longer than this shows its first pages and says how many are left

PDFIUM_LOCK = threading.RLock()


class PdfError(ReportError):
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
    from ownscan.core.reports._documents import encapsulated_pdf

    try:
        if kind == "dicom-pdf":
            return encapsulated_pdf(path)
        data = Path(path).read_bytes()
    except (OSError, ReportError) as exc:
        raise PdfError(f"{path}: {exc}") from exc
    if not data.startswith(b"%PDF-"):
        raise PdfError(f"{path}: not a PDF")
    return Path(path).stem, data


def _open(data: bytes, name: str) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"{name}: cannot open the PDF ({exc})") from exc


def _render_page(page: Any, width: int) -> npt.NDArray[np.uint8]:
    """One page ``width`` pixels wide (aspect kept), on white paper, as RGB."""
    w_pt = page.get_width()
    scale = width / w_pt if w_pt > 0 else 1.0
    bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
    rgb = np.ascontiguousarray(bitmap.to_numpy()[..., :3])
    if bitmap.mode in ("BGR", "BGRA", "BGRX"):  # PDFium's native byte order
        rgb = np.ascontiguousarray(rgb[..., ::-1])
    return rgb.astype(np.uint8, copy=False)


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def render_pdf(data: bytes, width: int, title: str = "", name: str = "PDF") -> PdfPages:
    """Render the first :data:`MAX_PAGES` pages of a PDF ``width`` pixels wide (aspect
    kept), white paper, with the text of those pages.

    Raises
    ------
    PdfError
        PDFium cannot open the document (damaged, encrypted); ``name`` names it.
    """
    with PDFIUM_LOCK:
        doc = _open(data, name)
        try:
            total = len(doc)
            pages: list[npt.NDArray[np.uint8]] = []
            texts: list[str] = []
            for i in range(min(total, MAX_PAGES)):
                page = doc[i]
                pages.append(_render_page(page, width))
                texts.append(_page_text(page))
                page.close()
        finally:
            doc.close()
    return PdfPages(title, tuple(pages), "\n".join(texts), total)


def pdf_page_sizes(data: bytes, name: str = "PDF") -> list[tuple[float, float]]:
    """``(width, height)`` in points of every page (all of them, not only the first
    :data:`MAX_PAGES`).

    Raises
    ------
    PdfError
        PDFium cannot open the document, or it has no page; ``name`` names it.
    """
    with PDFIUM_LOCK:
        doc = _open(data, name)
        try:
            sizes = [doc.get_page_size(i) for i in range(len(doc))]
        finally:
            doc.close()
    if not sizes:
        raise PdfError(f"{name}: the PDF has no page")
    return [(float(w), float(h)) for w, h in sizes]


def render_pdf_page(
    data: bytes, index: int, width: int, name: str = "PDF"
) -> npt.NDArray[np.uint8]:
    """Page ``index`` (0-based) of a PDF rendered ``width`` pixels wide, RGB on white paper.

    Raises
    ------
    PdfError
        PDFium cannot open the document or render the page, or there is no such page.
    """
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        doc = _open(data, name)
        try:
            if not 0 <= index < len(doc):
                raise PdfError(f"{name}: no page {index + 1} (the PDF has {len(doc)})")
            page = doc[index]
            try:
                return _render_page(page, width)
            except pdfium.PdfiumError as exc:
                raise PdfError(f"{name}: page {index + 1} cannot be drawn ({exc})") from exc
            finally:
                page.close()
        finally:
            doc.close()


def pdf_text(data: bytes, name: str = "PDF") -> str:
    """The text of the first :data:`MAX_PAGES` pages (what the glossary reads).

    Raises
    ------
    PdfError
        PDFium cannot open the document; ``name`` names it.
    """
    with PDFIUM_LOCK:
        doc = _open(data, name)
        try:
            texts = []
            for i in range(min(len(doc), MAX_PAGES)):
                page = doc[i]
                texts.append(_page_text(page))
                page.close()
        finally:
            doc.close()
    return "\n".join(texts)
