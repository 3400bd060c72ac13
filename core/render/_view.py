"""A :class:`Scene` and :class:`Camera` from the options ``ownscan render`` takes (mode, preset,
window/level, plane, azimuth/elevation, zoom, perspective, slice offset, slab, iso value, the
mode's parameters): one
place that turns those words into a view, for the render command and for the exporters that
draw pictures (``png``, ``movie``), so that they show what ``ownscan render`` shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.render._camera import Camera
from ownscan.core.render._scene import Scene, TransferFunction, VisualisationMode
from ownscan.core.render._setup import plane_offsets_mm

if TYPE_CHECKING:
    from ownscan.core.plugin_host import PluginHost
    from ownscan.core.volume import Volume, WindowPreset

__all__ = ["MINIP_SLAB_MM", "drawn_mode", "view_from_options", "window_from_options"]

MINIP_SLAB_MM = 10.0  # a MinIP through a whole head or chest shows the air around it


def drawn_mode(mode: VisualisationMode, slab: Any) -> tuple[VisualisationMode, float]:
    """``mode`` as drawn with the ``slab`` option (mm; None: not given) and the slab's
    thickness: MinIP over :data:`MINIP_SLAB_MM` by default. Raises UsageError for a
    negative thickness."""
    if slab is not None and float(slab) < 0:
        raise UsageError(f"--slab {float(slab):g}: a thickness must be >= 0 mm")
    mm = 0.0 if slab is None else float(slab)
    if mode.name == "minip" and not mode.slab:
        # the minimum over a slab around the plane facing the camera (as for lungs): through a
        # whole head or chest a MinIP shows only the air around it
        mm = MINIP_SLAB_MM if slab is None else mm
        if mm > 0:
            mode = dataclasses.replace(mode, slab=True)
    return mode, mm


def view_from_options(
    volume: Volume, options: Mapping[str, Any], host: PluginHost | None = None
) -> tuple[Scene, Camera]:
    """The scene and camera that ``ownscan render`` would draw ``volume`` with.

    Parameters
    ----------
    volume
        The volume to show.
    options
        Any of ``mode`` (default ``dvr``), ``preset`` (a transfer function or a window
        preset), ``window`` + ``level``, ``plane``, ``azimuth``, ``elevation``, ``zoom``,
        ``perspective``, ``offset`` (mm), ``slab`` (mm), ``iso`` (iso value), ``param`` (a
        list of ``"NAME=NUMBER"``: the mode's parameters). Absent or None
        values take the render command's defaults.
    host
        Where modes and presets come from (the process's plugin host by default).

    Raises
    ------
    UsageError
        An unknown mode, preset or plane, or only one of window and level.
    """
    if host is None:
        from ownscan.core.plugin_host import get_host

        host = get_host()

    def opt(key: str, default: Any = None) -> Any:
        return _opt(options, key, default)

    mode = host.mode(opt("mode", "dvr"))
    window, tf = window_from_options(volume, options, host)
    if mode.uses_transfer_function and tf is None:
        tf = tfs_of(host)["ct-soft-tissue" if volume.modality == "CT" else "mr-default"]
    params: dict[str, Any] = {}
    for text in opt("param", ()):
        name, sep, value = str(text).partition("=")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UsageError(f"--param {text!r}: expected NAME=NUMBER")
    if opt("iso") is not None:
        params["iso_value"] = float(opt("iso"))
    mode, slab = drawn_mode(mode, opt("slab"))
    offset = float(opt("offset", 0.0))
    scene = Scene(
        volume,
        mode,
        window=window,
        transfer_function=tf,
        slice_offset_mm=offset,
        slab_mm=slab,
        parameters=params,
    )
    zoom = float(opt("zoom", 1.0))
    projection = "perspective" if opt("perspective", False) else "orthographic"
    camera = Camera.for_plane(opt("plane", mode.default_view), zoom=zoom, projection=projection)
    if opt("azimuth") is not None or opt("elevation") is not None:
        camera = Camera(
            azimuth=float(opt("azimuth", camera.azimuth)),
            elevation=float(opt("elevation", camera.elevation)),
            zoom=zoom,
            projection=camera.projection,
        )
    if mode.slab:
        lo, hi = plane_offsets_mm(volume, camera)
        reach = slab / 2.0
        if not lo - reach <= offset <= hi + reach:
            raise UsageError(
                f"--offset {offset:g} mm: the plane lies outside the volume (this view "
                f"meets it from {lo:.0f} to {hi:.0f} mm)"
            )
    return scene, camera


def _opt(options: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = options.get(key)
    return default if value is None else value


def tfs_of(host: PluginHost) -> dict[str, TransferFunction]:
    """The transfer functions the plugins contribute, by name."""
    return {t.name: t for t in host.transfer_functions()}


def window_from_options(
    volume: Volume, options: Mapping[str, Any], host: PluginHost
) -> tuple[WindowPreset | None, TransferFunction | None]:
    """The window and transfer function that ``preset``, ``window`` and ``level`` name (None
    where they name none): the part of :func:`view_from_options` a 2D picture needs too.

    Raises
    ------
    UsageError
        An unknown preset, or only one of window and level.
    """
    from ownscan.core.volume import WindowPreset

    if (_opt(options, "window") is None) != (_opt(options, "level") is None):
        raise UsageError("give --window and --level together")
    window = None
    tf = None
    tfs = tfs_of(host)
    windows = {w.name: w for w in [*volume.windows, *host.window_presets()]}
    preset = _opt(options, "preset")
    if preset is not None:
        if preset in tfs:
            tf = tfs[preset]
        elif preset in windows:
            window = windows[preset]
        else:
            valid = ", ".join([*tfs, *windows])
            raise UsageError(f"unknown preset {preset!r}; valid: {valid}")
    if _opt(options, "window") is not None:
        window = WindowPreset(
            "command line", float(_opt(options, "window")), float(_opt(options, "level"))
        )
    return window, tf
