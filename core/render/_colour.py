"""Colour volumes (RGB ultrasound, colour secondary-capture stacks) as a colour MPR.

A colour voxel has three values, not one a ray could project, composite or shade, so the 3D
modes do not apply; what does apply is a plane through the volume in its own colours. Each
channel is drawn as a grey MPR by the renderer given (GL or arrays: the same geometry, trilinear
sampling, slab and fitting as every grey MPR, and the same agreement between the two) with
the window ``0 .. top`` (the channel's values as stored), and the three grey pictures are the
red, green and blue of the colour one: trilinear interpolation is per channel, so this is the
colour volume resliced.

Without a plane asked for, the three standard planes (axial, coronal, sagittal) through the
volume's centre share the picture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.render._camera import Camera
from ownscan.core.render._view import view_from_options
from ownscan.core.volume import Volume, WindowPreset

if TYPE_CHECKING:
    from ownscan.core.plugin_host import PluginHost
    from ownscan.core.render._backend import Renderer

__all__ = [
    "COLOUR_PLANES",
    "colour_channels",
    "colour_mpr",
    "colour_mprs",
    "pane_layout",
    "spatial_colour",
]

COLOUR_PLANES = ("axial", "coronal", "sagittal")

# draws orientation labels, scale bar and notes on one pane: (pane, camera, channel volume)
Decorate = Callable[[npt.NDArray[np.uint8], Camera, Volume], npt.NDArray[np.uint8]]


def spatial_colour(volume: Volume) -> bool:
    """Whether ``volume`` is a colour volume whose slices have places in space (a stack with
    slice positions), so that planes across its slices mean something. A multi-frame colour
    image without slice positions is a cine loop or a sweep in time (ultrasound's usual
    multi-frame file: frames 33 ms apart), whose frames are shown one by one, never resliced."""
    return volume.samples > 1 and not volume.is_2d and volume.extra.get("kind") in (None, "volume")


def colour_channels(volume: Volume) -> tuple[list[Volume], WindowPreset]:
    """One grey :class:`Volume` per colour channel (the first three: RGB; the geometry,
    orientation and scale of ``volume``) and the window that shows each as stored."""
    v = volume.voxels
    top = 255.0 if v.dtype == np.uint8 else max(float(v[..., :3].max()), 1.0)
    channels = [
        # the same geometry, orientation and scale; one value per voxel
        dataclasses.replace(
            volume, voxels=np.ascontiguousarray(v[..., min(c, v.shape[3] - 1)]), warnings=[]
        )
        for c in range(3)
    ]
    return channels, WindowPreset("as stored", top, top / 2.0)


def pane_layout(size: tuple[int, int], n: int) -> list[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of ``n`` panes (1 or 3) in a picture of ``size`` = (w, h): one pane,
    or of a row, a column and a 2 x 2 grid the one whose panes are largest (squarest)."""
    w, h = size
    if n == 1:
        return [(0, 0, w, h)]
    layouts = [(3, 1), (1, 3), (2, 2)]  # columns, rows
    cols, rows = max(layouts, key=lambda cr: min(w // cr[0], h // cr[1]))
    pw, ph = w // cols, h // rows
    return [((i % cols) * pw, (i // cols) * ph, pw, ph) for i in range(n)]


def colour_mpr(
    renderer: Renderer,
    volume: Volume,
    options: Mapping[str, Any],
    size: tuple[int, int],
    host: PluginHost | None = None,
    decorate: Decorate | None = None,
) -> tuple[npt.NDArray[np.uint8], list[Camera]]:
    """The colour MPR of ``volume``: RGBA uint8 ``(h, w, 4)``, top row first, and the cameras
    of its panes.

    Parameters
    ----------
    renderer
        Draws each channel (``GLRenderer`` or ``ArrayRenderer``).
    volume
        A colour volume (``samples >= 3``).
    options
        As :func:`~ownscan.core.render.view_from_options`: ``plane`` (or ``azimuth`` /
        ``elevation``) for one plane, else the three standard planes; ``offset``, ``slab``,
        ``zoom``. The mode is mpr whatever ``mode`` says (the caller says so); a window or
        preset does not apply (the colours are shown as stored).
    size
        ``(w, h)`` of the picture.
    decorate
        Called on each pane (top row first) before it is placed: labels, scale bar.

    Raises
    ------
    UsageError
        A plane or offset that does not meet the volume (as for grey MPR).
    """
    return next(colour_mprs(renderer, volume, [options], size, host, decorate))


# Pictures drawn channel by channel together (colour_mprs): each channel is uploaded once
# per batch instead of once per picture; the batch's grey pictures are held meanwhile (one
# byte a pixel a channel, plus the coverage: 16 MiB for 16 pictures of 512 x 512)
BATCH = 16


def colour_mprs(
    renderer: Renderer,
    volume: Volume,
    options: Iterable[Mapping[str, Any]],
    size: tuple[int, int],
    host: PluginHost | None = None,
    decorate: Decorate | None = None,
) -> Iterator[tuple[npt.NDArray[np.uint8], list[Camera]]]:
    """:func:`colour_mpr` of ``volume`` for each of ``options`` in turn (the slices of a
    colour stack one after another: an export, a movie), yielded as each is made.

    The three channels are made once for all the pictures and drawn channel after channel
    over :data:`BATCH` pictures at a time: a renderer keeps one volume on its GPU, so drawing
    red, green and blue for each picture in turn would upload (and quantise) every channel
    again for every picture (a 256 x 256 x 60 colour stack's slices: 73 ms a slice on
    llvmpipe, most of it uploads). The pictures are the same as one call per picture."""
    channels, window = colour_channels(volume)
    batch: list[Mapping[str, Any]] = []
    for opts in options:
        batch.append(opts)
        if len(batch) == BATCH:
            yield from _colour_batch(renderer, channels, window, batch, size, host, decorate)
            batch = []
    if batch:
        yield from _colour_batch(renderer, channels, window, batch, size, host, decorate)


def _colour_batch(
    renderer: Renderer,
    channels: list[Volume],
    window: WindowPreset,
    options: list[Mapping[str, Any]],
    size: tuple[int, int],
    host: PluginHost | None,
    decorate: Decorate | None,
) -> Iterator[tuple[npt.NDArray[np.uint8], list[Camera]]]:
    """The colour MPRs of ``options`` (one batch), drawn channel after channel."""
    pictures = []  # per picture: its views and their panes
    for options_one in options:
        opts = {
            k: v for k, v in options_one.items() if k not in ("preset", "window", "level", "iso")
        }
        opts["mode"] = "mpr"
        one = any(opts.get(k) is not None for k in ("plane", "azimuth", "elevation"))
        views = [view_from_options(channels[0], opts, host)]
        if not one:
            views = [
                view_from_options(channels[0], {**opts, "plane": p}, host) for p in COLOUR_PLANES
            ]
        pictures.append((views, pane_layout(size, len(views))))
    # per picture, per pane: the three channels' grey (one byte each) and their coverage
    grey = [[np.empty((ph, pw, 3), np.uint8) for (_, _, pw, ph) in panes] for _, panes in pictures]
    cover = [[np.zeros((ph, pw), np.uint8) for (_, _, pw, ph) in panes] for _, panes in pictures]
    for c, channel in enumerate(channels):  # channel after channel: each uploaded once
        for (views, panes), g, a in zip(pictures, grey, cover, strict=True):
            for p, ((scene, camera), (_, _, pw, ph)) in enumerate(zip(views, panes, strict=True)):
                s = dataclasses.replace(scene, volume=channel, window=window)
                drawn = renderer.render(s, camera, (pw, ph))
                g[p][..., c] = drawn[..., 0]
                np.maximum(a[p], drawn[..., 3], out=a[p])
    for (views, panes), g, a in zip(pictures, grey, cover, strict=True):
        out = np.zeros((size[1], size[0], 4), dtype=np.uint8)
        for (_, camera), (x, y, pw, ph), rgb, alpha in zip(views, panes, g, a, strict=True):
            pane = np.empty((ph, pw, 4), dtype=np.uint8)
            pane[..., :3] = rgb
            pane[..., 3] = alpha
            if decorate is not None:
                pane = decorate(pane, camera, channels[0])
            out[y : y + ph, x : x + pw] = pane
        yield out, [camera for _, camera in views]
