"""The Starlette application of ``ownscan serve``: routes over :class:`~._service.Service`.

Every route is behind :class:`~._door.Door`. Errors are JSON ``{"error": "one line"}`` with a
4xx status; an unexpected exception is a 500 whose body names only its type, and whose log line
names only the route (its message could hold a file name, and file names hold patient names).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ownscan.core.serve._compare import compare_routes
from ownscan.core.serve._door import Door
from ownscan.core.serve._overlays import overlay_routes
from ownscan.core.serve._pages import page_routes
from ownscan.core.serve._service import (
    MAX_FRAME,
    BadRequest,
    Service,
    ServiceError,
    check_uid,
)
from ownscan.core.serve._uploads import Uploads

__all__ = ["create_app", "static_dir"]

log = logging.getLogger("ownscan.serve")

Handler = Callable[[Request], Awaitable[Response]]


def static_dir() -> Path:
    """The page's files (package data ``ownscan.core.serve/static``)."""
    return Path(str(resources.files("ownscan.core.serve") / "static"))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _guarded(fn: Handler) -> Handler:
    """Known failures become JSON 4xx; anything else a 500 that leaks nothing."""

    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except ClientDisconnect:  # the client went away mid-body (a resumable upload's chunk)
            return Response(status_code=400)
        except ServiceError as exc:
            return _error(exc.status, str(exc))
        except (ValueError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                log.warning("%s: %s", _route(request), type(exc).__name__)
                return _error(500, f"server error: {type(exc).__name__}")
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # said in the server's log too: the page shows only its own line for a failed
            # picture, and the access log names the route without the reason
            log.info("%s: %s", _route(request), message)
            return _error(400 if isinstance(exc, ValueError) else 404, message)
        except Exception as exc:
            log.error("%s failed: %s (a bug)", _route(request), type(exc).__name__)
            return _error(500, f"server error: {type(exc).__name__} (see the server's log)")

    wrapper.__name__ = fn.__name__
    return wrapper


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "?")


def create_app(
    service: Service, token: str, secure: bool = False, uploads: Uploads | None = None
) -> Door:
    """The ASGI application (Starlette behind the door).

    Parameters
    ----------
    service
        The library's service.
    token
        The secret the door wants.
    secure
        Served over TLS (the cookie gets ``Secure``).
    uploads
        Where uploads are staged and imported; None: a fresh :class:`Uploads` on the service's
        library.
    """
    up = uploads if uploads is not None else Uploads(service.root, service.private)

    @_guarded
    async def index(request: Request) -> Response:
        page = static_dir() / "index.html"
        if not page.is_file():
            return _error(404, "the page is not installed (core/serve/static/index.html)")
        return FileResponse(page, media_type="text/html; charset=utf-8")

    @_guarded
    async def library(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(service.library_json))

    @_guarded
    async def modes(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(service.modes_json))

    @_guarded
    async def series_header(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        volume = _int(request, "volume", 0)
        return JSONResponse(await run_in_threadpool(service.header, uid, volume))

    @_guarded
    async def voxels(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        level = _int(request, "level", 0)
        volume = _int(request, "volume", 0)
        chunks, raw, encoding, length = await run_in_threadpool(
            service.voxel_stream, uid, level, volume
        )
        headers = {
            "content-encoding": "gzip",
            "x-ownscan-encoding": encoding,
            "x-ownscan-raw-length": str(raw),
        }
        if length is not None:
            headers["content-length"] = str(length)
        return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)

    @_guarded
    async def render(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        options, size = _render_options(request)
        loaded = await run_in_threadpool(service.loaded, uid, False, _int(request, "volume", 0))
        png = await service.on_render_thread(
            lambda: service.render_png(loaded.volume, options, size)
        )
        return Response(png, media_type="image/png")

    @_guarded
    async def thumbnail(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        path = await run_in_threadpool(service.thumbnail_path, uid)
        if not path.is_file():
            lock = service.thumbnail_lock(uid)
            await run_in_threadpool(lock.acquire)
            try:
                if not path.is_file():
                    volume = await run_in_threadpool(service.thumbnail_volume, uid)
                    png = await service.on_render_thread(lambda: service.thumbnail(volume))
                    await run_in_threadpool(_write_private, path, png)
                    await run_in_threadpool(service.drop_stale_thumbnails, path)
            finally:
                lock.release()
        return FileResponse(path, media_type="image/png")

    @_guarded
    async def document(request: Request) -> Response:
        body, content_type, _title = await run_in_threadpool(
            service.document, request.path_params["doc_id"]
        )
        headers = {}
        if content_type == "application/pdf":
            # ?download=1: the page's "Download the PDF" (docpage.js) saves rather than shows
            how = "attachment" if request.query_params.get("download") == "1" else "inline"
            headers["content-disposition"] = f'{how}; filename="report.pdf"'
        return Response(body, media_type=content_type, headers=headers)

    @_guarded
    async def shaders_raycast(request: Request) -> Response:
        from ownscan.core.plugin_host import get_host
        from ownscan.core.serve._webgl import mode_sources

        name = request.query_params.get("mode", "dvr")
        shading = request.query_params.get("shading", "1") != "0"
        mode = get_host().mode(name)  # ValueError names the valid modes
        if request.query_params.get("slab") == "1" and not mode.slab:
            import dataclasses

            # a slab of a projection (MinIP), as view_from_options makes it for `render`
            mode = dataclasses.replace(mode, slab=True)
        narrow = request.query_params.get("narrow") == "1"  # few pixels in lock-step (gl.js)
        return JSONResponse(await run_in_threadpool(mode_sources, mode, shading, narrow))

    @_guarded
    async def shaders_slice(request: Request) -> Response:
        from ownscan.core.serve._webgl import slice_sources

        return JSONResponse(await run_in_threadpool(slice_sources))

    # -- uploads -------------------------------------------------------------------------------
    @_guarded
    async def upload_create(request: Request) -> Response:
        spec = await _json_body(request)
        return JSONResponse(up.create(spec.get("files")), status_code=201)

    @_guarded
    async def upload_status(request: Request) -> Response:
        return JSONResponse(up.status(request.path_params["upload_id"]))

    @_guarded
    async def upload_put(request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        n = int(request.path_params["n"])
        offset = _int(request, "offset", -1)
        received = await up.receive(upload_id, n, offset, request.stream())
        return JSONResponse({"received": received})

    @_guarded
    async def upload_delete(request: Request) -> Response:
        await run_in_threadpool(up.drop, request.path_params["upload_id"])
        return JSONResponse({"dropped": True})

    @_guarded
    async def upload_import(request: Request) -> Response:
        options = await _json_body(request)
        job_id = await run_in_threadpool(up.start_import, request.path_params["upload_id"], options)
        return JSONResponse({"job_id": job_id}, status_code=202)

    @_guarded
    async def job(request: Request) -> Response:
        return JSONResponse(up.job(request.path_params["job_id"]))

    # -- persons and what the radiologist marked (_persons.py, _marks.py) ---------------------
    @_guarded
    async def persons(request: Request) -> Response:
        from ownscan.core.serve._persons import persons_json

        return JSONResponse(await run_in_threadpool(service.query, persons_json))

    @_guarded
    async def persons_change(request: Request) -> Response:
        from ownscan.core.serve._persons import merge_request

        body = await _json_body(request)
        action = request.path_params["action"]
        return JSONResponse(
            await run_in_threadpool(service.query, lambda lib: merge_request(lib, action, body))
        )

    @_guarded
    async def marks(request: Request) -> Response:
        from ownscan.core.serve._marks import marks_json
        from ownscan.core.serve._stacks import split_id

        uid = check_uid(request.path_params["uid"])
        volume = (await run_in_threadpool(service.loaded, uid)).volume
        return JSONResponse(
            # a stack's (``UID~N``) marks are its series', placed on the stack's volume
            await run_in_threadpool(
                service.query, lambda lib: marks_json(lib, split_id(uid)[0], volume)
            )
        )

    async def not_found(request: Request) -> Response:
        return _error(404, "no such route")

    routes = [
        Route("/", index),
        Route("/api/library", library),
        Route("/api/modes", modes),
        Route("/api/series/{uid}", series_header),
        Route("/api/series/{uid}/voxels", voxels),
        Route("/api/series/{uid}/render.png", render),
        Route("/api/series/{uid}/thumbnail.png", thumbnail),
        Route("/api/series/{uid}/marks", marks),
        Route("/api/persons", persons),
        Route("/api/persons/{action}", persons_change, methods=["POST"]),
        Route("/api/documents/{doc_id}", document),
        Route("/api/shaders/raycast", shaders_raycast),
        Route("/api/shaders/slice", shaders_slice),
        Route("/api/uploads", upload_create, methods=["POST"]),
        Route("/api/uploads/{upload_id}", upload_status, methods=["GET"]),
        Route("/api/uploads/{upload_id}", upload_delete, methods=["DELETE"]),
        Route("/api/uploads/{upload_id}/files/{n:int}", upload_put, methods=["PUT"]),
        Route("/api/uploads/{upload_id}/import", upload_import, methods=["POST"]),
        Route("/api/jobs/{job_id}", job),
        *compare_routes(service, _guarded),  # priors, registration, panes (_compare.py)
        *page_routes(service, _guarded),  # PDF reports as pages (_pages.py)
        *overlay_routes(service, _guarded),  # overlay planes (60xx) placed (_overlays.py)
        Mount("/static", StaticFiles(directory=static_dir(), check_dir=False)),
        Route("/{rest:path}", not_found),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        up.start()
        try:
            yield
        finally:
            await run_in_threadpool(up.close)
            await run_in_threadpool(service.close)

    app = Starlette(routes=routes, lifespan=lifespan)

    def route_name(scope: Scope) -> str:
        for r in routes:
            match, _ = r.matches(scope)
            if match == Match.FULL:
                path = str(getattr(r, "path", "?"))
                return path + "/{file}" if isinstance(r, Mount) else path
        return "?"

    return Door(app, token, secure=secure, route_name=route_name)


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw[:40]!r}") from None


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be finite, got {raw[:40]!r}")
    return value


def _render_options(request: Request) -> tuple[dict[str, Any], tuple[int, int]]:
    """The query of ``render.png``: the options of ``ownscan render`` by the same names."""
    q = request.query_params
    width = _int(request, "width", 512)
    height = _int(request, "height", 512)
    if not (1 <= width <= MAX_FRAME and 1 <= height <= MAX_FRAME):
        raise BadRequest(f"width and height must be within 1..{MAX_FRAME}")
    zoom = _float(request, "zoom")
    options: dict[str, Any] = {
        "mode": q.get("mode") or None,
        "preset": q.get("preset") or None,
        "window": _float(request, "window"),
        "level": _float(request, "level"),
        "azimuth": _float(request, "azimuth"),
        "elevation": _float(request, "elevation"),
        "zoom": 1.0 if zoom is None else zoom,
        "perspective": q.get("perspective", "0") not in ("0", "", "false"),
        "plane": q.get("plane") or None,
        "offset": _float(request, "offset") or 0.0,
        # absent: the mode's default, as `ownscan render` (a MinIP's 10 mm slab)
        "slab": _float(request, "slab"),
        "iso": _float(request, "iso"),
    }
    return options, (width, height)


_MAX_JSON = 8 << 20  # a JSON request body (marks, persons, an upload's list of files)


async def _json_body(request: Request) -> dict[str, Any]:
    # read as it arrives and refused at the cap: ``request.body()`` would hold a body of any
    # size (a lying client's 10 GB POST) in memory before its length could be looked at
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_JSON:
        raise BadRequest("request body too large")
    pieces: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > _MAX_JSON:
            raise BadRequest("request body too large")
        pieces.append(piece)
    body = b"".join(pieces)
    import json

    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) through a temporary name, so a reader never sees half."""
    import os

    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
