"""Overlay planes (60xx) of a series' images for the page: ``ownscan serve`` reads them with
:func:`ownscan.core.reports.read_overlays` (the one reader; the desktop viewer uses it too) and
places each in the patient from its image's own header, as the marks are placed
(:mod:`._marks`: Image Position/Orientation (Patient) and Pixel Spacing, per frame for an
enhanced multi-frame file; an image without patient geometry only when it is the one image of
its series). An overlay whose image has no known place is listed as not placed and never
drawn.

* ``GET /api/series/{uid}/overlays``: ``{"overlays": [{"n", "sop_instance_uid", "number",
  "frame", "group", "kind", "description", "label", "rows", "columns", "corner", "right",
  "down", "normal", "url"}], "not_placed": [{"number", "group"}], "problems": [str]}``;
  ``corner`` is the LPS of the overlay's top left corner (the corner of its first bit, not the
  centre), ``right``/``down`` the LPS step of one overlay column/row (the image's pixel
  spacing), so a bit (r, c) covers ``corner + [c, c+1] right + [r, r+1] down``.
* ``GET /api/series/{uid}/overlays/{n}.png``: overlay ``n``'s bits as a PNG: the desktop
  viewer's overlay colour (:data:`OVERLAY_RGB`) where a bit is set, transparent elsewhere.

A series is read once per version (number and size of its images) and kept in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ownscan.core.serve._service import NotFound, check_uid
from ownscan.core.serve._stacks import split_id

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from ownscan.core.serve._service import Service
    from ownscan.core.volume import Volume

__all__ = ["OVERLAY_RGB", "SeriesOverlays", "overlay_routes", "read_series_overlays"]

Handler = Callable[["Request"], Awaitable["Response"]]

# the desktop viewer's overlay colour (core/viewer/_radiologist.py MARK_COLOURS["overlay"])
OVERLAY_RGB = (255, 255, 140)


@dataclass(frozen=True)
class SeriesOverlays:
    """What :func:`read_series_overlays` found: the JSON of the listing and each placed
    overlay's bits (frame of the overlay plane, rows, columns) by ``n``."""

    listing: dict[str, Any]
    bits: tuple[np.ndarray, ...]


def read_series_overlays(images: dict[str, Any], volume: Volume, uid: str) -> SeriesOverlays:
    """Read and place the overlay planes of a series' images.

    Parameters
    ----------
    images
        The series' instances by SOP Instance UID, in the series' order (``Library.instances``).
    volume
        The series' volume (places an image without patient geometry when it is the only one).
    uid
        The series' UID (for the PNG addresses).
    """
    import pydicom

    from ownscan.core.dicom import quiet_pydicom
    from ownscan.core.reports import ReportError, read_overlays
    from ownscan.core.serve._marks import _geometry, _Plane, _Planes

    planes = _Planes(images, volume)
    overlays: list[dict[str, Any]] = []
    bits: list[np.ndarray] = []
    not_placed: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, (sop, inst) in enumerate(images.items(), start=1):
        try:
            with quiet_pydicom():
                ds = pydicom.dcmread(inst.path, stop_before_pixels=True)
            found = read_overlays(ds)
        except ReportError as exc:  # "dataset: overlay 6000 holds ..." -> "image 3: ..."
            problems.append(f"image {number}: {str(exc).removeprefix('dataset: ')}")
            continue
        except Exception as exc:  # a damaged header costs its overlays, not the view
            problems.append(f"image {number}: header not read ({type(exc).__name__})")
            continue
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        for ov in found:
            for f in range(ov.bitmap.shape[0]):
                frame = ov.first_frame + f
                if frame > n_frames:
                    break
                plane = _place(ds, frame, planes, sop, _Plane, _geometry)
                group = f"{ov.group:04X}"
                if plane is None:
                    not_placed.append({"number": number, "group": group, "frame": frame})
                    continue
                row0, col0 = ov.origin
                dx, dy = np.asarray(plane.dx, float), np.asarray(plane.dy, float)
                normal = np.cross(dx, dy)
                normal /= float(np.linalg.norm(normal)) or 1.0
                n = len(bits)
                bits.append(ov.bitmap[f])
                overlays.append(
                    {
                        "n": n,
                        "sop_instance_uid": sop,
                        "number": number,
                        "frame": frame,
                        "group": group,
                        "kind": ov.kind,
                        "description": ov.description,
                        "label": ov.label,
                        "rows": int(ov.bitmap.shape[1]),
                        "columns": int(ov.bitmap.shape[2]),
                        # DICOM pixel coordinates are corner based: the first bit's corner
                        "corner": plane.lps(col0 - 1.0, row0 - 1.0),
                        "right": [round(float(x), 6) for x in dx],
                        "down": [round(float(x), 6) for x in dy],
                        "normal": [round(float(x), 6) for x in normal],
                        "url": f"/api/series/{uid}/overlays/{n}.png",
                    }
                )
    return SeriesOverlays(
        {"overlays": overlays, "not_placed": not_placed, "problems": problems}, tuple(bits)
    )


def _place(ds: Any, frame: int, planes: Any, sop: str, plane_type: Any, geometry: Any) -> Any:
    """The pixel -> LPS map of one frame of an image already read (``_marks._Planes``'s rule
    without reading the file again)."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    try:
        ipp, iop, spacing = geometry(ds, frame)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    if ipp is not None and iop is not None and spacing is not None:
        x, y = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
        return plane_type(np.asarray(ipp, float), spacing[1] * x, spacing[0] * y, rows, cols)
    return planes._from_volume(frame, rows, cols)


def overlay_png(bits: np.ndarray) -> bytes:
    """One overlay frame as RGBA: :data:`OVERLAY_RGB` where set, transparent elsewhere."""
    import io

    from PIL import Image

    rgba = np.zeros((*bits.shape, 4), np.uint8)
    rgba[bits.astype(bool)] = (*OVERLAY_RGB, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


class _Cache:
    """The overlays of the last few series (by series and version)."""

    def __init__(self, service: Service, keep: int = 8) -> None:
        self.service = service
        self.keep = keep
        self._found: OrderedDict[tuple[str, tuple[int, int]], SeriesOverlays] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uid: str) -> SeriesOverlays:
        key = (uid, self.service.version(uid))
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
        volume = self.service.loaded(uid).volume  # a stack's (``UID~N``): placed on it
        series_uid = split_id(uid)[0]
        images = {
            i.sop_instance_uid: i for i in self.service.query(lambda lib: lib.instances(series_uid))
        }
        found = read_series_overlays(images, volume, series_uid)
        with self._lock:
            self._found[key] = found
            while len(self._found) > self.keep:
                self._found.popitem(last=False)
        return found


def overlay_routes(service: Service, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The overlay routes (module docstring), each wrapped by ``guarded``."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.responses import Response as Plain
    from starlette.routing import Route

    cache = _Cache(service)

    @guarded
    async def listing(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        return JSONResponse((await run_in_threadpool(cache.get, uid)).listing)

    @guarded
    async def picture(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        n = int(request.path_params["n"])
        found = await run_in_threadpool(cache.get, uid)
        if not 0 <= n < len(found.bits):
            raise NotFound(f"no overlay {n}")
        png = await run_in_threadpool(overlay_png, found.bits[n])
        return Plain(png, media_type="image/png", headers={"cache-control": "private"})

    return [
        Route("/api/series/{uid}/overlays", listing),
        Route("/api/series/{uid}/overlays/{n:int}.png", picture),
    ]
