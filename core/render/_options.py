"""From the options a user gives (``ownscan render``, ``/api/series/UID/render.png``) to the
:class:`Scene` and :class:`Camera` that draw them: one place, so that the command and the
browser's server-rendered frames mean the same thing by the same words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ownscan.core.render._camera import Camera
from ownscan.core.render._scene import Scene
from ownscan.core.volume import Volume, WindowPreset

if TYPE_CHECKING:
    from ownscan.core.plugin_host import PluginHost

__all__ = ["scene_for"]


def scene_for(
    volume: Volume,
    host: PluginHost,
    *,
    mode: str | None = None,
    preset: str | None = None,
    window: float | None = None,
    level: float | None = None,
    azimuth: float | None = None,
    elevation: float | None = None,
    zoom: float = 1.0,
    perspective: bool = False,
    plane: str | None = None,
    offset: float = 0.0,
    slab: float = 0.0,
    iso: float | None = None,
) -> tuple[Scene, Camera]:
    """The scene and camera for ``ownscan render``'s options (same names, same defaults).

    Parameters
    ----------
    volume
        What to draw.
    host
        The plugin host that knows the modes, transfer functions and window presets.
    mode
        A mode name (default ``dvr``).
    preset
        A transfer function or a window preset (the volume's own windows included).
    window, level
        An explicit window (both or neither).
    azimuth, elevation, zoom, perspective, plane
        The camera: ``plane`` (default: the mode's usual view) turned by azimuth/elevation.
    offset, slab
        MPR: slice offset and slab thickness in mm.
    iso
        Iso value (volume units) for the ``iso`` mode.

    Raises
    ------
    ValueError
        Unknown mode, preset or plane, or a window without a level.
    """
    if (window is None) != (level is None):
        raise ValueError("give window and level together")
    chosen = host.mode(mode or "dvr")
    window_preset: WindowPreset | None = None
    tf = None
    tfs = {t.name: t for t in host.transfer_functions()}
    windows = {w.name: w for w in [*volume.windows, *host.window_presets()]}
    if preset is not None:
        if preset in tfs:
            tf = tfs[preset]
        elif preset in windows:
            window_preset = windows[preset]
        else:
            valid = ", ".join([*tfs, *windows])
            raise ValueError(f"unknown preset {preset!r}; valid: {valid}")
    if window is not None and level is not None:
        window_preset = WindowPreset("command line", window, level)
    if chosen.uses_transfer_function and tf is None:
        tf = tfs["ct-soft-tissue" if volume.modality == "CT" else "mr-default"]
    params: dict[str, Any] = {}
    if iso is not None:
        params["iso_value"] = iso
    scene = Scene(
        volume,
        chosen,
        window=window_preset,
        transfer_function=tf,
        slice_offset_mm=offset,
        slab_mm=slab,
        parameters=params,
    )
    projection = "perspective" if perspective else "orthographic"
    camera = Camera.for_plane(plane or chosen.default_view, zoom=zoom, projection=projection)
    if azimuth is not None or elevation is not None:
        camera = Camera(
            azimuth=camera.azimuth if azimuth is None else azimuth,
            elevation=camera.elevation if elevation is None else elevation,
            zoom=zoom,
            projection=camera.projection,
        )
    return scene, camera
