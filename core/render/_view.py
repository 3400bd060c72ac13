"""A :class:`Scene` and :class:`Camera` from the options ``ownscan render`` takes (mode, preset,
window/level, plane, azimuth/elevation, zoom, perspective, slice offset, slab, iso value, the
mode's parameters): one
place that turns those words into a view, for the render command and for the exporters that
draw pictures (``png``, ``movie``), so that they show what ``ownscan render`` shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.render._camera import Camera
from ownscan.core.render._scene import Scene

if TYPE_CHECKING:
    from ownscan.core.plugin_host import PluginHost
    from ownscan.core.volume import Volume

__all__ = ["view_from_options"]


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
    from ownscan.core.volume import WindowPreset

    if host is None:
        from ownscan.core.plugin_host import get_host

        host = get_host()

    def opt(key: str, default: Any = None) -> Any:
        value = options.get(key)
        return default if value is None else value

    if (opt("window") is None) != (opt("level") is None):
        raise UsageError("give --window and --level together")
    mode = host.mode(opt("mode", "dvr"))
    window = None
    tf = None
    tfs = {t.name: t for t in host.transfer_functions()}
    windows = {w.name: w for w in [*volume.windows, *host.window_presets()]}
    preset = opt("preset")
    if preset is not None:
        if preset in tfs:
            tf = tfs[preset]
        elif preset in windows:
            window = windows[preset]
        else:
            valid = ", ".join([*tfs, *windows])
            raise UsageError(f"unknown preset {preset!r}; valid: {valid}")
    if opt("window") is not None:
        window = WindowPreset("command line", float(opt("window")), float(opt("level")))
    if mode.uses_transfer_function and tf is None:
        tf = tfs["ct-soft-tissue" if volume.modality == "CT" else "mr-default"]
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
    scene = Scene(
        volume,
        mode,
        window=window,
        transfer_function=tf,
        slice_offset_mm=float(opt("offset", 0.0)),
        slab_mm=float(opt("slab", 0.0)),
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
    return scene, camera
