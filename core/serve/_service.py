"""What the server does, without HTTP: library listings, volumes and their levels, frames,
thumbnails and documents. The routes in :mod:`._app` only translate requests to these calls.

Threads
-------
Everything here blocks (SQLite, decoding, rendering), so the routes call it from worker
threads and the event loop stays free. Three kinds of work, three rules:

- the library's read connection is shared and used under a lock (queries take milliseconds);
  an import opens its own connection (see :mod:`._uploads`);
- volumes are loaded once per series and kept in a small LRU cache by bytes (voxels, preview
  level and the already compressed streams); concurrent requests for one series share one load;
- every picture (``render.png``, thumbnails) is drawn on ONE thread that owns the renderer: an
  EGL context may be current on one thread at a time, and the GL renderer keeps the volume's
  textures between frames, so a second series or a second frame of the same one costs only the
  drawing. Without a GL driver it is the array renderer, on the same thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError
from ownscan.core.serve._edges import image_edges_json, projection_windows_json
from ownscan.core.serve._encode import (
    downsample2,
    encoded_chunks,
    encoding_of,
    level_affine,
    preview_shape,
)
from ownscan.core.serve._stacks import (
    indexed_stacks,
    listed_stacks,
    remember_stacks,
    split_id,
    stacks_json,
)
from ownscan.core.serve._volumes import Assemblies, cine_json, four_d_json

if TYPE_CHECKING:
    from ownscan.core.library import Document, Library
    from ownscan.core.render import Camera, Renderer
    from ownscan.core.volume import Volume

__all__ = [
    "BadRequest",
    "Conflict",
    "NoRoom",
    "NotFound",
    "Service",
    "ServiceError",
    "TooLarge",
    "format_date",
    "format_name",
]

log = logging.getLogger("ownscan.serve")
T = TypeVar("T")

PRIVATE_DIR = "serve"  # under the library: thumbnails, staged uploads
THUMBNAIL_SIZE = 128
MAX_FRAME = 2048  # largest side of a server-rendered frame
# a UID, or a stack of a series of several (``UID~N``, _stacks.py)
_UID = re.compile(r"^[0-9A-Za-z._-]{1,128}(~[1-9][0-9]{0,3})?$")
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")


class ServiceError(OwnscanError):
    """A request that cannot be answered (bad parameter, series that is not a volume): 4xx."""

    status = 422


class BadRequest(ServiceError):
    """A parameter that cannot be used (the message says which and why)."""

    status = 400


class NotFound(ServiceError):
    """No such series, document, upload or job."""

    status = 404


class Conflict(ServiceError):
    """A request that does not fit the state of an upload (wrong offset, being imported)."""

    status = 409


class TooLarge(ServiceError):
    """Over a cap (upload size, file count, chunk)."""

    status = 413


class NoRoom(ServiceError):
    """Not enough free disk for an upload."""

    status = 507  # Insufficient Storage


def format_name(pn: str) -> str:
    """A DICOM person name as people write it: ``Citizen^Jan^^Dr`` -> ``Dr Jan Citizen``."""
    group = next((g for g in pn.split("=") if g.strip("^ ")), "")
    parts = (group.split("^") + [""] * 5)[:5]
    family, given, middle, prefix, suffix = (p.strip() for p in parts)
    return " ".join(p for p in (prefix, given, middle, family, suffix) if p)


def format_date(da: str) -> str:
    """``20240115`` -> ``2024-01-15``; anything else as it is."""
    d = da.strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def check_uid(uid: str) -> str:
    """A UID as a route gives it; NotFound for anything that cannot be one."""
    if not _UID.match(uid):
        raise NotFound(f"no series {uid[:70]!r}")
    return uid


class Stream:
    """One level's gzip stream, made once on the encoder thread and read by any number of
    requests while it grows (a second device, a reload, the page asking before it is done)."""

    def __init__(self, make: Callable[[], npt.NDArray[Any]]) -> None:
        self._make = make
        self.chunks: list[bytes] = []
        self.raw_bytes: int | None = None
        self.done = False
        self.error: BaseException | None = None
        self._cond = threading.Condition()

    def produce(self) -> None:
        """Compress (on the encoder thread)."""
        try:
            arr = self._make()
            with self._cond:
                self.raw_bytes = int(arr.nbytes)
                self._cond.notify_all()
            for piece in encoded_chunks(arr):
                with self._cond:
                    self.chunks.append(piece)
                    self._cond.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()

    def raw_size(self) -> int:
        """The decoded size in bytes (waits until the level exists)."""
        with self._cond:
            while self.raw_bytes is None and not self.done:
                self._cond.wait()
            if self.raw_bytes is None:
                raise self.error or ServiceError("the voxels could not be made")
            return self.raw_bytes

    @property
    def length(self) -> int | None:
        """The gzip stream's size once complete, else None."""
        with self._cond:
            return sum(len(c) for c in self.chunks) if self.done and not self.error else None

    @property
    def nbytes(self) -> int:
        with self._cond:
            return sum(len(c) for c in self.chunks)

    def read(self) -> Iterator[bytes]:
        """The pieces in order, waiting for those not made yet."""
        i = 0
        while True:
            with self._cond:
                while i >= len(self.chunks) and not self.done:
                    self._cond.wait()
                if i < len(self.chunks):
                    piece = self.chunks[i]
                elif self.error is not None:
                    raise self.error
                else:
                    return
            i += 1
            yield piece


@dataclass
class Loaded:
    """A loaded series: the volume, its preview level, its compressed streams."""

    volume: Volume
    series: Any = None  # the assembled Series it came from (4D: one volume of it)
    stacks: dict[str, Any] = field(default_factory=dict)  # _stacks.stacks_json
    previews: dict[int, npt.NDArray[Any]] = field(default_factory=dict)
    streams: dict[int, Stream] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nbytes(self) -> int:
        return (
            self.volume.nbytes
            + sum(int(p.nbytes) for p in self.previews.values())
            + sum(st.nbytes for st in self.streams.values())
        )

    def level(self, n: int) -> npt.NDArray[Any]:
        """Level 0: the voxels; level 1: the 2x preview (made once)."""
        if n == 0:
            return self.volume.voxels
        if n != 1:
            raise NotFound(f"no level {n}; levels are 0 (full) and 1 (preview)")
        with self.lock:
            if 1 not in self.previews:
                self.previews[1] = downsample2(self.volume.voxels)
            return self.previews[1]


class Service:
    """The server's work on one library.

    Parameters
    ----------
    library
        The library folder (created when missing).
    render_backend
        ``auto`` (GL through EGL, else arrays), ``gl`` or ``cpu``.
    cache_bytes
        Budget of the volume cache (the most recent volume is kept whatever its size).
    """

    def __init__(
        self, library: Path, render_backend: str = "auto", cache_bytes: int = 2 << 30
    ) -> None:
        from ownscan.core.library import open_library
        from ownscan.core.library._store import make_private_dir

        self.lib: Library = open_library(library, create=True)
        self.root = self.lib.root
        self.private = self.root / PRIVATE_DIR
        make_private_dir(self.private)
        self.thumbnails = self.private / "thumbnails"
        make_private_dir(self.thumbnails)
        self._lib_lock = threading.Lock()
        self._cache_bytes = cache_bytes
        # (series UID, version) -> the load, oldest first
        self._volumes: OrderedDict[tuple[str, tuple[int, int], int], Future[Loaded]] = OrderedDict()
        self._assemblies = Assemblies()  # a 4D series is assembled once for all its volumes
        self._volumes_lock = threading.Lock()
        self._render_pool = ThreadPoolExecutor(1, thread_name_prefix="ownscan-render")
        # one level at a time (each uses every core), in the order asked: preview first
        self._encode_pool = ThreadPoolExecutor(1, thread_name_prefix="ownscan-encode")
        self._render_backend = render_backend
        self._renderer: Renderer | None = None
        self._thumb_locks: dict[str, threading.Lock] = {}
        # a library page asks for every thumbnail at once: their series are loaded one at a
        # time, as the oldest entries of the cache (see loaded)
        self._thumb_loads = threading.Semaphore(1)
        self._loads = threading.Semaphore(2)  # series loaded for viewing at the same time
        self._closed = False

    def close(self) -> None:
        """Stop the render thread (after its current frame) and close the library (once)."""
        if self._closed:
            return
        self._closed = True

        def release() -> None:
            if self._renderer is not None:
                self._renderer.close()
                self._renderer = None

        self._render_pool.submit(release).result()
        self._render_pool.shutdown(wait=True)
        self._encode_pool.shutdown(wait=True, cancel_futures=True)
        with self._lib_lock:
            self.lib.close()

    def query(self, fn: Callable[[Library], T]) -> T:
        """``fn(library)`` under the read connection's lock."""
        with self._lib_lock:
            return fn(self.lib)

    # -- listing -------------------------------------------------------------------------------
    def library_json(self) -> dict[str, Any]:
        """``/api/library``: patients -> studies -> series and documents."""

        def build(lib: Library) -> dict[str, Any]:
            # each series of several stacks that was assembled is listed stack by stack
            versions = {
                u: (int(n), int(size))
                for u, n, size in lib.conn.execute(
                    "SELECT series_uid, count(*), coalesce(sum(size), 0) FROM instances"
                    " GROUP BY series_uid"
                )
            }
            patients = []
            for p in lib.patients():
                studies = []
                for st in lib.studies(p.key):
                    # presentation states (PR) are marks on images, shown in the viewer
                    series = [
                        s
                        for s in lib.series(st.study_uid)
                        if not s.is_document and s.modality != "PR"
                    ]
                    docs = lib.documents(st.study_uid)
                    studies.append(
                        {
                            "study_uid": st.study_uid,
                            "date": format_date(st.date),
                            "description": st.description,
                            "modalities": sorted({s.modality for s in series if s.modality}),
                            "documents": [_document_json(d) for d in docs],
                            "series": [
                                {
                                    "series_uid": s.series_uid,
                                    "number": s.number,
                                    "modality": s.modality,
                                    "description": s.description,
                                    "body_part": s.body_part,
                                    "images": s.images,
                                    "thumbnail": f"/api/series/{s.series_uid}/thumbnail.png",
                                    # recorded at import; a library not yet filled
                                    # (read-only, older) shows those assembled since
                                    "stacks": indexed_stacks(s.series_uid, s.stacks)
                                    if s.stacks is not None
                                    else listed_stacks(
                                        self.stacks_path(
                                            s.series_uid, versions.get(s.series_uid, (0, 0))
                                        )
                                    ),
                                }
                                for s in series
                            ],
                        }
                    )
                patients.append(
                    {
                        "key": p.key,
                        "name": format_name(p.name),
                        "patient_id": p.patient_id,
                        "birth_date": format_date(p.birth_date),
                        "sex": p.sex,
                        "studies": studies,
                    }
                )
            loose = [d for d in lib.documents() if d.study_uid is None]
            return {"patients": patients, "documents": [_document_json(d) for d in loose]}

        return self.query(build)

    def modes_json(self) -> dict[str, Any]:
        """``/api/modes``: the visualisation modes, transfer functions and window presets."""
        from ownscan.core.plugin_host import get_host

        host = get_host()
        return {
            "modes": [
                {
                    "name": m.name,
                    "description": m.description,
                    "uses_transfer_function": m.uses_transfer_function,
                    "slab": m.slab,
                    "default_view": m.default_view,
                    "parameters": {  # JSON has no NaN: a default to be computed is None
                        k: (float(v) if np.isfinite(float(v)) else None)
                        for k, v in m.parameters.items()
                    },
                }
                for m in host.modes()
            ],
            "transfer_functions": [_tf_json(t) for t in host.transfer_functions()],
            "window_presets": [_window_json(w) for w in host.window_presets()],
        }

    # -- volumes -------------------------------------------------------------------------------
    def version(self, uid: str) -> tuple[int, int]:
        """``(images, bytes)`` of a series as the library holds it now: what the caches are
        keyed by, so that images added by an import (here or by ``ownscan import``) are never
        hidden behind a volume or thumbnail made before. ``uid`` may name a stack
        (``UID~N``): the version is its series'."""
        uid = split_id(check_uid(uid))[0]
        row = self.query(
            lambda lib: lib.conn.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM instances WHERE series_uid = ?",
                (uid,),
            ).fetchone()
        )
        if not row or not row[0]:
            raise NotFound(f"no series {uid} in the library")
        return int(row[0]), int(row[1])

    def loaded(self, uid: str, for_thumbnail: bool = False, volume: int = 0) -> Loaded:
        """The series ``uid`` loaded (blocking: call from a worker thread).

        Every caller of one series version shares one load. ``for_thumbnail``: a library page
        asks for every thumbnail at once; such a load goes in as the OLDEST entry of the cache
        (and an entry it finds is not made newer), so it is the first to go when the cache is
        full, and the series being viewed stay; opened next, it needs no second load.
        ``volume``: which volume of a 4D series (each is loaded and kept on its own).
        ``uid`` may name one stack of a series of several (``UID~N``, _stacks.py).
        """
        key = (uid, self.version(uid), volume)
        base = split_id(uid)[0]
        with self._volumes_lock:
            stale_keys = [k for k in self._volumes if split_id(k[0])[0] == base and k[1] != key[1]]
            for stale in stale_keys:
                del self._volumes[stale]
            fut = self._volumes.get(key)
            owner = fut is None
            if fut is None:
                fut = Future()
                self._volumes[key] = fut
                if for_thumbnail:
                    self._volumes.move_to_end(key, last=False)
            elif not for_thumbnail:
                self._volumes.move_to_end(key)
        if owner:
            try:
                with self._loads:
                    fut.set_result(self._load(uid, key[1], volume))
            except BaseException as exc:
                with self._volumes_lock:
                    self._volumes.pop(key, None)
                fut.set_exception(exc)
            self._evict()
        return fut.result()

    def _load(self, shown: str, version: tuple[int, int], volume: int) -> Loaded:
        from ownscan.core.library import LibraryError

        from ._origins import served_items

        uid, number = split_id(shown)
        try:
            # named as the user imported them, never by the library's stored copies
            items = self.query(lambda lib: served_items(lib, uid))
        except LibraryError as exc:
            raise NotFound(f"no series {uid} in the library") from exc
        try:
            stacks = self._assemblies.series(uid, version, items)
            if number is not None and not (len(stacks) > 1 and number <= len(stacks)):
                have = f"stacks 1..{len(stacks)}" if len(stacks) > 1 else "one stack"
                raise NotFound(f"no stack {number}; series {uid} has {have}")
            series = stacks[(number or 1) - 1]
            if not 0 <= volume < series.n_volumes:
                raise NotFound(f"no volume {volume}; series {uid} has 0..{series.n_volumes - 1}")
            loaded = Loaded(series.load(volume=volume), series)
            loaded.stacks = stacks_json(uid, stacks, number or 1)
            if len(stacks) > 1:
                remember_stacks(self.stacks_path(uid, version), loaded.stacks["stacks"])
            if number is None and len(stacks) > 1:
                # the plain UID of a series of several stacks shows the first: say so
                # (a new list: the volume's may be the assembled stack's, shared by every load)
                loaded.volume.warnings = [
                    f"this series holds {len(stacks)} stacks; {loaded.stacks['stack']['label']}"
                    " is shown (choose another above the picture)",
                    *loaded.volume.warnings,
                ]
            return loaded
        except ServiceError:
            raise
        except OwnscanError as exc:
            raise ServiceError(f"series {uid}: {exc}") from exc

    def _evict(self) -> None:
        with self._volumes_lock:
            done = [(u, f) for u, f in self._volumes.items() if f.done() and not f.exception()]
            total = sum(f.result().nbytes for _, f in done)
            for u, f in done[:-1]:  # oldest first; the newest stays
                if total <= self._cache_bytes:
                    break
                total -= f.result().nbytes
                del self._volumes[u]

    def header(self, uid: str, volume: int = 0) -> dict[str, Any]:
        """``/api/series/UID[?volume=N]``: shape, dtype, geometry, display defaults, levels;
        for a 4D series, which volume of how many and what they are."""
        from ownscan.core.plugin_host import get_host

        loaded = self.loaded(uid, volume=volume)
        v = loaded.volume
        host = get_host()
        hu = v.modality == "CT" or v.units == "HU"
        windows = list(v.windows)
        if hu:
            names = {w.name for w in windows}
            windows += [w for w in host.window_presets() if w.name not in names]
        # transfer functions in HU fit HU data; relative ones (fractions of the window) fit any
        tfs = [t for t in host.transfer_functions() if t.relative or hu]
        default = v.default_window()
        # the page asks for level 1 then level 0 next: start compressing both now
        self.stream(loaded, 1)
        self.stream(loaded, 0)
        which = f"&volume={volume}" if volume else ""
        preview = preview_shape(v.voxels.shape)
        preview_affine = level_affine(v.affine, v.voxels.shape)
        levels = [
            {
                "level": 0,
                "shape": list(v.voxels.shape),
                "affine": _matrix(v.affine),
                "url": f"/api/series/{uid}/voxels?level=0{which}",
                "gradient_factors": _gradient_factors(v.voxels.shape, v.spacing),
                "gradient_scales": _gradient_scales(v.spacing),
            },
            {
                "level": 1,
                "shape": preview,
                "affine": _matrix(preview_affine),
                "url": f"/api/series/{uid}/voxels?level=1{which}",
                "gradient_factors": _gradient_factors(
                    preview, np.linalg.norm(preview_affine[:3, :3], axis=0)
                ),
                "gradient_scales": _gradient_scales(np.linalg.norm(preview_affine[:3, :3], axis=0)),
            },
        ]
        lo, hi = v.value_range
        return {
            "series_uid": uid,
            "shape": list(v.shape),
            "dtype": str(v.voxels.dtype),
            "components": v.samples,
            "encoding": encoding_of(v.voxels.dtype),
            "spacing": list(v.spacing),
            "affine": _matrix(v.affine),
            "modality": v.modality,
            "units": v.units,
            "invert": v.invert,
            "description": v.describe(),
            "series_description": v.info.series_description,
            "window": {"name": default.name, "width": default.width, "level": default.level},
            "presets": [_window_json(w) for w in windows] + [_tf_json(t) for t in tfs],
            "default_transfer_function": "ct-soft-tissue" if v.modality == "CT" else "mr-default",
            "value_range": [lo, hi],
            "is_2d": v.is_2d,
            "warnings": list(v.warnings),
            "levels": levels,
            "kind": v.extra.get("kind", "volume"),
            # no labels or scale bar where the file gives no orientation or no pixel size
            "orientation_known": v.orientation_known,
            "spacing_known": v.spacing_known,
            # a 2D picture's edge letters and scale words as the desktop and `ownscan render`
            # draw them (Patient Orientation when that is all the file says; the affine of
            # such an image is a stand-in, its letters would be wrong)
            **image_edges_json(v),
            **projection_windows_json(v),
            "cine": cine_json(v, loaded.series),
            **loaded.stacks,
            **four_d_json(v),
        }

    def stream(self, loaded: Loaded, level: int) -> Stream:
        """The gzip stream of a level, started on the encoder thread when first asked."""
        if level not in (0, 1):
            raise NotFound(f"no level {level}; levels are 0 (full) and 1 (preview)")
        with loaded.lock:
            st = loaded.streams.get(level)
            if st is None or st.error is not None:
                st = Stream(lambda: loaded.level(level))
                loaded.streams[level] = st
                self._encode_pool.submit(st.produce)
        return st

    def voxel_stream(
        self, uid: str, level: int, volume: int = 0
    ) -> tuple[Iterator[bytes], int, str, int | None]:
        """``(pieces, raw bytes, encoding, gzip bytes when known)`` of a level's voxels.

        A level is compressed once, while the first request sends it, and kept with the
        volume, so later requests (another device, a reload) get it with a Content-Length.
        """
        loaded = self.loaded(uid, volume=volume)
        st = self.stream(loaded, level)
        raw = st.raw_size()
        encoding = encoding_of(loaded.volume.voxels.dtype)

        def pieces() -> Iterator[bytes]:
            yield from st.read()
            self._evict()

        return pieces(), raw, encoding, st.length

    # -- pictures ------------------------------------------------------------------------------
    async def on_render_thread(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the one thread that draws."""
        return await asyncio.wrap_future(self._render_pool.submit(fn))

    def renderer(self) -> Renderer:
        """The render thread's renderer (call only on that thread)."""
        if self._renderer is None:
            from ownscan.core.render import create_renderer

            self._renderer = create_renderer(self._render_backend, quiet=True)
            log.info("frames are drawn by the %s renderer", self._renderer.name)
        return self._renderer

    def render_png(
        self,
        volume: Volume,
        options: dict[str, Any],
        size: tuple[int, int],
        camera: Camera | None = None,
    ) -> bytes:
        """One frame as ``ownscan render`` draws it with the same options (render thread);
        ``camera``, when given, replaces the options' (the compare view's turned prior)."""
        from ownscan.core.plugin_host import get_host
        from ownscan.core.render import RenderNote, view_from_options

        try:
            scene, from_options = view_from_options(volume, options, get_host())
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        camera = from_options if camera is None else camera
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RenderNote)  # the header's warnings say it
            image = self.renderer().render(scene, camera, size)
        image[..., 3] = 255  # premultiplied over black, as `ownscan render` writes it
        # the page shows the series' warnings beside the picture; a picture saved from the
        # page carries them too (PNG's Warning chunk, as `ownscan render` writes it)
        from ownscan.core.recorded import png_bytes, recorded_warnings

        return png_bytes(np.ascontiguousarray(image[..., :3]), recorded_warnings(volume))

    def stacks_path(self, uid: str, version: tuple[int, int]) -> Path:
        """Where the stacks of a series version of several are kept for the library's list
        (:func:`~ownscan.core.serve._stacks.remember_stacks`), beside its thumbnails."""
        series_key = hashlib.sha256(uid.encode()).hexdigest()[:32]
        content_key = hashlib.sha256(f"{version[0]}|{version[1]}".encode()).hexdigest()[:16]
        return self.thumbnails / f"stacks-{series_key}-{content_key}.json"

    def thumbnail_path(self, uid: str) -> Path:
        """Where the thumbnail of ``uid`` is cached; the name changes when the series does
        (more images imported), so a stale picture is never shown."""
        images, size = self.version(uid)
        series_key = hashlib.sha256(uid.encode()).hexdigest()[:32]
        content_key = hashlib.sha256(f"{images}|{size}".encode()).hexdigest()[:16]
        return self.thumbnails / f"{series_key}-{content_key}.png"

    def drop_stale_thumbnails(self, path: Path) -> None:
        """Delete the older thumbnails of the series whose current one is ``path``."""
        series_key = path.name.split("-")[0]
        for old in self.thumbnails.glob(f"{series_key}-*.png"):
            if old != path:
                old.unlink(missing_ok=True)

    def thumbnail(self, volume: Volume) -> bytes:
        """A ``THUMBNAIL_SIZE`` square picture (render thread): the middle slice along the
        acquisition plane with the default window, drawn by the renderer; colour images are
        scaled down as they are."""
        if volume.samples != 1:
            from PIL import Image

            mid = volume.voxels[volume.shape[0] // 2]
            im = Image.fromarray(np.ascontiguousarray(mid[..., :3]).astype(np.uint8), "RGB")
            im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            canvas = Image.new("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            canvas.paste(im, ((THUMBNAIL_SIZE - im.width) // 2, (THUMBNAIL_SIZE - im.height) // 2))
            buf = io.BytesIO()
            canvas.save(buf, "PNG")
            return buf.getvalue()
        normal = np.abs(volume.direction[:, 2])  # slice normal in LPS
        plane = ("sagittal", "coronal", "axial")[int(np.argmax(normal))]
        w = volume.default_window()
        return self.render_png(
            _reduced(volume, 2 * THUMBNAIL_SIZE),
            {"mode": "mpr", "plane": plane, "window": w.width, "level": w.level},
            (THUMBNAIL_SIZE, THUMBNAIL_SIZE),
        )

    def thumbnail_volume(self, uid: str) -> Volume:
        """The volume to draw a thumbnail from (see :meth:`loaded`); thumbnails' loads run
        one at a time."""
        with self._thumb_loads:
            return self.loaded(uid, for_thumbnail=True).volume

    def thumbnail_lock(self, uid: str) -> threading.Lock:
        with self._volumes_lock:
            return self._thumb_locks.setdefault(uid, threading.Lock())

    # -- documents -----------------------------------------------------------------------------
    def document(self, doc_id: str) -> tuple[bytes, str, str]:
        """``(body, content type, title)`` of a kept document: PDF as it is, SR as HTML."""
        if not _DOC_ID.match(doc_id):
            raise NotFound("no such document")
        docs = self.query(lambda lib: lib.documents())
        doc = next((d for d in docs if Path(d.path).name == doc_id), None)
        if doc is None:
            raise NotFound("no such document")
        path = Path(doc.path)
        title = doc.title or ("Report" if doc.kind == "sr" else "Document")
        if doc.kind == "pdf":
            return path.read_bytes(), "application/pdf", title
        # one reader of kept documents for every frontend: ownscan.core.reports
        from ownscan.core.reports import encapsulated_pdf, read_report, report_html

        if doc.kind == "dicom-pdf":
            return encapsulated_pdf(path)[1], "application/pdf", title
        return report_html(read_report(path)).encode(), "text/html; charset=utf-8", title


def _gradient_factors(shape: Sequence[int], spacing: Sequence[float]) -> list[int]:
    """Voxels per texel along i, j, k of the page's compact gradient texture of a level of
    ``shape`` ``(z, y, x, ...)``: the desktop's rule (``gradient_factors``), decided here so
    that the page never needs a second copy of it."""
    from ownscan.core.render._gradient import gradient_factors

    z, y, x = (int(n) for n in shape[:3])
    return list(gradient_factors((x, y, z), [float(s) for s in spacing]))


def _gradient_scales(spacing: Sequence[float]) -> list[float]:
    """The byte steps of the page's compact gradient texels per axis i, j, k for a level of
    ``spacing`` (mm, i, j, k): the desktop's (``gradient_scales``), float32 values that JSON
    carries exactly, so that the page's texels are the desktop's bytes."""
    from ownscan.core.render._gradient import gradient_scales

    return list(gradient_scales([float(s) for s in spacing]))


def _reduced(volume: Volume, max_side: int) -> Volume:
    """``volume`` halved (the preview level's 2x2x2 means, placed exactly by its affine) until
    its slices are at most ``max_side`` voxels wide: a 128-pixel thumbnail of a 512x512x300 CT
    then costs the renderer 1/64 of the volume instead of all of it."""
    from dataclasses import replace

    v = volume
    while max(v.shape[1], v.shape[2]) > max_side:
        affine = level_affine(v.affine, v.voxels.shape)
        spacing = tuple(float(n) for n in np.linalg.norm(affine[:3, :3], axis=0))
        v = replace(
            v,
            voxels=downsample2(v.voxels),
            spacing=(spacing[0], spacing[1], spacing[2]),
            origin=(float(affine[0, 3]), float(affine[1, 3]), float(affine[2, 3])),
            warnings=list(v.warnings),
        )
    return v


def _document_json(d: Document) -> dict[str, Any]:
    doc_id = Path(d.path).name
    return {"id": doc_id, "kind": d.kind, "title": d.title, "url": f"/api/documents/{doc_id}"}


def _window_json(w: Any) -> dict[str, Any]:
    return {"kind": "window", "name": w.name, "width": w.width, "level": w.level}


def _tf_json(t: Any) -> dict[str, Any]:
    return {
        "kind": "transfer_function",
        "name": t.name,
        "description": t.description,
        "relative": t.relative,
        "points": [list(p) for p in t.points],
    }


def _matrix(m: npt.NDArray[np.float64]) -> list[list[float]]:
    return [[float(x) for x in row] for row in np.asarray(m)]


def _png(rgb: npt.NDArray[np.uint8]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "PNG")
    return buf.getvalue()
