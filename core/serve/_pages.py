"""PDF reports as pages in the page's report panel: ``ownscan serve`` renders them itself,
with the same code as the desktop viewer (:func:`ownscan.core.reports.render_pdf_page`,
PDFium through pypdfium2), so a phone needs no PDF viewer of its own.

* ``GET /api/documents/{id}/pages``: ``{"title", "pages": N, "shown": n, "sizes": [[w, h]]}``,
  the page count and each page's size in points (the page reserves the room before the
  pictures come); ``shown`` is at most :data:`~ownscan.core.reports.MAX_PAGES`. A damaged
  PDF is one 422 line: ``This PDF cannot be shown: ...``.
* ``GET /api/documents/{id}/page/{n}.png?width=W``: page ``n`` (1-based) ``W`` pixels wide,
  white paper. ``W`` is rounded up to a multiple of :data:`WIDTH_STEP` (at most
  :data:`MAX_WIDTH`), so a few sizes per page are ever made; each is kept in the library's
  private folder (``serve/pdf-pages``). A document's id is its content's SHA-256, so a kept
  picture is never stale.

The PDF itself is ``GET /api/documents/{id}`` (``?download=1``: as an attachment).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.serve._service import _DOC_ID, BadRequest, NotFound, ServiceError, _png

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from ownscan.core.serve._service import Service

__all__ = ["MAX_WIDTH", "WIDTH_STEP", "PdfPageCache", "page_routes"]

Handler = Callable[["Request"], Awaitable["Response"]]

WIDTH_STEP = 200
MAX_WIDTH = 2000


class DamagedPdf(ServiceError):
    """A kept PDF that PDFium cannot open or draw (422, one line)."""


def page_width(asked: int) -> int:
    """The width a page is drawn at: ``asked`` rounded up to a multiple of
    :data:`WIDTH_STEP`, within ``WIDTH_STEP..MAX_WIDTH``."""
    if asked < 1:
        raise BadRequest("width must be at least 1")
    return min(MAX_WIDTH, max(WIDTH_STEP, -(-asked // WIDTH_STEP) * WIDTH_STEP))


class PdfPageCache:
    """Page counts (in memory) and page pictures (files under ``folder``) of the library's
    PDF documents.

    Parameters
    ----------
    service
        The server's library service (documents are looked up in its index).
    """

    def __init__(self, service: Service) -> None:
        from ownscan.core.library._store import make_private_dir

        self.service = service
        self.folder = service.private / "pdf-pages"
        make_private_dir(self.folder)
        self._info: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _document(self, doc_id: str) -> tuple[str, bytes]:
        """``(title, PDF bytes)`` of a kept PDF (a PDF file or a DICOM Encapsulated PDF)."""
        from ownscan.core.reports import PdfError, read_pdf

        if not _DOC_ID.match(doc_id):
            raise NotFound("no such document")
        docs = self.service.query(lambda lib: lib.documents())
        doc = next((d for d in docs if Path(d.path).name == doc_id), None)
        if doc is None or doc.kind not in ("pdf", "dicom-pdf"):
            raise NotFound("no such PDF document")
        title = doc.title or "PDF report"
        try:
            return title, read_pdf(doc.kind, doc.path)[1]
        except PdfError as exc:
            # the message names a library path: say what is wrong, not where it is stored
            raise DamagedPdf(f"This PDF cannot be shown: {_reason(exc, doc.path)}") from exc

    def _doc_lock(self, doc_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(doc_id, threading.Lock())

    def info(self, doc_id: str) -> dict[str, Any]:
        """``/pages``: the title, page count and page sizes (points)."""
        from ownscan.core.reports import MAX_PAGES, PdfError, pdf_page_sizes

        found = self._info.get(doc_id)
        if found is not None:
            return found
        title, data = self._document(doc_id)
        try:
            sizes = pdf_page_sizes(data, title)
        except PdfError as exc:
            raise DamagedPdf(f"This PDF cannot be shown: {_reason(exc, title)}") from exc
        out = {
            "title": title,
            "pages": len(sizes),
            "shown": min(len(sizes), MAX_PAGES),
            "sizes": [[round(w, 2), round(h, 2)] for w, h in sizes[:MAX_PAGES]],
            "max_width": MAX_WIDTH,
        }
        self._info[doc_id] = out
        return out

    def page_path(self, doc_id: str, number: int, width: int) -> Path:
        """The picture of page ``number`` (1-based) ``width`` pixels wide (made once)."""
        from ownscan.core.reports import PdfError, render_pdf_page

        info = self.info(doc_id)
        if not 1 <= number <= info["shown"]:
            raise NotFound(f"no page {number} (pages 1..{info['shown']} are shown)")
        w = page_width(width)
        key = hashlib.sha256(doc_id.encode()).hexdigest()[:32]
        path = self.folder / f"{key}-{number}-{w}.png"
        if path.is_file():
            return path
        with self._doc_lock(doc_id):
            if path.is_file():
                return path
            title, data = self._document(doc_id)
            try:
                rgb = render_pdf_page(data, number - 1, w, title)
            except PdfError as exc:
                raise DamagedPdf(f"This PDF cannot be shown: {_reason(exc, title)}") from exc
            from ownscan.core.serve._app import _write_private

            _write_private(path, _png(rgb))
        return path


def _reason(exc: Exception, name: str) -> str:
    """The problem of a PdfError without the name it starts with."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    prefix = f"{name}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def page_routes(service: Service, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The PDF page routes (module docstring), each wrapped by ``guarded``."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Route

    cache = PdfPageCache(service)

    @guarded
    async def pages(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(cache.info, request.path_params["doc_id"]))

    @guarded
    async def page(request: Request) -> Response:
        raw = request.query_params.get("width", "800")
        try:
            width = int(raw)
        except ValueError:
            raise BadRequest(f"width must be a whole number, got {raw[:40]!r}") from None
        path = await run_in_threadpool(
            cache.page_path, request.path_params["doc_id"], request.path_params["n"], width
        )
        # the content never changes under this address (the id is the PDF's hash)
        return FileResponse(
            path, media_type="image/png", headers={"cache-control": "private, max-age=86400"}
        )

    return [
        Route("/api/documents/{doc_id}/pages", pages),
        Route("/api/documents/{doc_id}/page/{n:int}.png", page),
    ]
