"""What one series of the viewer steps through: the volumes of a 4D series, or the images of a
2D series, each decoded when it is first shown.

A :class:`Stack` holds ``count`` pictures of one series and a function that decodes picture
``n`` (``Series.load(volume=n)`` for a 4D series; the ``n``-th image's ``Series.load()`` for a
series of radiographs or secondary captures that share one Series Instance UID). A multi-frame
image (an ultrasound cine) needs none of this: its frames are the slices of one Volume.

Memory
------
Decoding every volume of a 4D series up front would hold all of it: a 512x512x300 multi-phase
CT is 150 MB per phase, a 100-volume fMRI 110 MB in all, a 60-direction diffusion series of
128x128x60 about 120 MB, and each volume the GPU shows also has a 16-bit copy made for the
upload. So a Stack keeps decoded pictures in a small cache bounded in bytes
(:data:`CACHE_BYTES`, counting that copy), dropping the least recently shown first, and never
fewer than :data:`MIN_KEPT` (the one shown and the next one, decoded ahead while a cine plays).
A small series thus ends up wholly cached after one pass and plays smoothly; a large one never
holds more than a few volumes. Decoding ahead runs on one worker thread (the latest wish wins);
the texture upload stays on the window's thread.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from ownscan.core.volume import Dimension, Volume

__all__ = ["CACHE_BYTES", "MIN_KEPT", "Stack", "stack_of_series"]

log = logging.getLogger(__name__)

CACHE_BYTES = 512 * 1024 * 1024
"""Decoded pictures (and their 16-bit GPU copies) a stack keeps, in bytes."""
MIN_KEPT = 2
"""Pictures a stack keeps whatever their size: the one shown and the next."""
IDLE_S = 10.0
"""Seconds without a picture to decode ahead after which the worker thread ends."""


class Stack:
    """The pictures of one series that the viewer steps through, decoded on demand.

    Parameters
    ----------
    kind
        ``"volumes"`` (the volumes of a 4D series: one geometry, one window) or ``"images"``
        (2D images of one series, each with its own size and window).
    count
        How many pictures.
    load
        Decodes picture ``n`` (0-based).
    dimension
        For volumes: what the 4th axis means (captions and the cine's speed).
    captions
        Words for each picture instead of ``volume 2/3`` (the stacks of a series of several:
        ``stack 2 of 3, oblique axial, 8 images``), or None.
    prepare
        Called on the worker thread with each picture decoded ahead (the viewer quantises it
        for the GPU there, so that showing it is only an upload).
    cache_bytes
        The cache's bound (see the module's docstring).
    """

    def __init__(
        self,
        kind: str,
        count: int,
        load: Callable[[int], Volume],
        *,
        dimension: Dimension | None = None,
        prepare: Callable[[Volume], None] | None = None,
        cache_bytes: int = CACHE_BYTES,
        captions: Sequence[str] | None = None,
    ) -> None:
        if kind not in ("volumes", "images"):
            raise ValueError(f"unknown stack kind {kind!r}; valid: volumes, images")
        if count < 1:
            raise ValueError(f"a stack needs at least one picture, got {count}")
        self.kind = kind
        self.count = count
        self.dimension = dimension
        self.captions = list(captions) if captions is not None else None
        self.prepare = prepare
        self.cache_bytes = cache_bytes
        self._load = load
        self._cache: OrderedDict[int, Volume] = OrderedDict()
        self._lock = threading.Lock()
        self._wanted: int | None = None  # the picture to decode ahead (latest wish wins)
        self._busy: int | None = None  # the picture the worker is decoding
        self._wake = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self.errors: dict[int, Exception] = {}  # pictures that could not be decoded ahead

    # -- pictures ------------------------------------------------------------------------------
    def get(self, index: int) -> Volume:
        """Picture ``index``, decoded now on this thread if it is not cached (and not being
        decoded ahead: then this waits for the worker)."""
        self._check(index)
        with self._lock:
            while self._busy == index:
                self._wake.wait()
            hit = self._cache.get(index)
            if hit is not None:
                self._cache.move_to_end(index)
                return hit
        volume = self._load(index)
        self._keep(index, volume)
        return volume

    def cached(self, index: int) -> Volume | None:
        """Picture ``index`` if it is decoded already, else None (never decodes)."""
        self._check(index)
        with self._lock:
            return self._cache.get(index)

    def decode_ahead(self, index: int) -> None:
        """Decode picture ``index`` on the worker thread, if it is not cached yet."""
        self._check(index)
        with self._lock:
            if index in self._cache or index == self._busy or index in self.errors:
                return
            self._wanted = index
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="ownscan-stack", daemon=True
                )
                self._worker.start()
            self._wake.notify_all()

    def caption(self, index: int) -> str:
        """Which picture ``index`` is, in words: ``"volume 3/60 · b=1000 s/mm2"``,
        ``"phase 2/3 · 120 ms"``, ``"image 2/5"``."""
        if self.captions is not None and len(self.captions) == self.count:
            return self.captions[index]
        if self.dimension is not None and len(self.dimension) == self.count:
            return self.dimension.label(index)
        word = "volume" if self.kind == "volumes" else "image"
        return f"{word} {index + 1}/{self.count}"

    def trim(self) -> None:
        """Drop every decoded picture (the viewer moved to another series: its entry keeps
        the first picture, and the rest would hold memory for nothing)."""
        with self._lock:
            self._cache.clear()
            self._wanted = None

    def cached_indices(self) -> list[int]:
        """The pictures held decoded, least recently shown first."""
        with self._lock:
            return list(self._cache)

    # -- internals -----------------------------------------------------------------------------
    def _check(self, index: int) -> None:
        if not 0 <= index < self.count:
            raise IndexError(f"picture {index} out of range 0..{self.count - 1}")

    def _keep(self, index: int, volume: Volume) -> None:
        with self._lock:
            self._cache[index] = volume
            self._cache.move_to_end(index)
            # each picture costs its voxels and the 16-bit copy the GPU upload is made from
            while len(self._cache) > MIN_KEPT and (
                sum(2 * v.nbytes for v in self._cache.values()) > self.cache_bytes
            ):
                self._cache.popitem(last=False)

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._wanted is None:
                    # idle for a while: the thread ends (the next wish starts another)
                    if not self._wake.wait(timeout=IDLE_S) and self._wanted is None:
                        self._worker = None
                        return
                index, self._wanted = self._wanted, None
                if index in self._cache:
                    continue
                self._busy = index
            try:
                volume = self._load(index)
                if self.prepare is not None:
                    self.prepare(volume)
            except Exception as exc:  # shown when the picture is asked for (get decodes again)
                log.warning("could not decode picture %d ahead: %s", index + 1, exc)
                with self._lock:
                    self.errors[index] = exc
                    self._busy = None
                    self._wake.notify_all()
                continue
            with self._lock:
                self._busy = None
                self._wake.notify_all()
            self._keep(index, volume)


def stack_of_series(
    series: Sequence[Any], prepare: Callable[[Volume], None] | None = None
) -> Stack:
    """The stack of one series as series assembly found it.

    ``series``: one :class:`~ownscan.core.assembly.Series` (its volumes, one for a 3D series),
    or several single-image Series of one Series Instance UID (radiographs, secondary
    captures: their images, in the order given).
    """
    if not series:
        raise ValueError("no series given")
    if len(series) == 1:
        s = series[0]
        return Stack(
            "volumes",
            s.n_volumes,
            lambda n: s.load(volume=n),
            dimension=s.dimension,
            prepare=prepare,
        )
    # the images as the modality numbered them (assembly lists them in the order it read them)
    parts = sorted(series, key=_instance_number)
    return Stack("images", len(parts), lambda n: parts[n].load(), prepare=prepare)


def _instance_number(series: Any) -> int:
    first = series._frames[0]  # a single-image Series: its one frame's header record
    return first.instance_number if first.instance_number is not None else 1 << 30
