"""Parts of the volume header that the page would otherwise compute differently from
``ownscan render``: a 2D picture's edge letters and scale words (``edge_labels``,
``scale_words``), from the functions the desktop viewer and ``ownscan render`` draw them with,
and the projections' automatic windows (``projection_windows``).

A radiograph that gives only Patient Orientation (``L\\F``) has a stand-in affine (identity
directions): letters computed from it would say A at the top of a chest film. The page draws
these letters on a 2D picture instead of computing its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ownscan.core.volume import Volume


def image_edges_json(volume: Volume) -> dict[str, Any]:
    """``{"edge_labels": {"left", "right", "top", "bottom"} or {} (none known), "scale_words":
    str}`` for a 2D picture (a single image or a clip's frames); ``{"edge_labels": None,
    "scale_words": ""}`` for a volume, whose views the page labels from the affine.

    Parameters
    ----------
    volume
        The series' volume (as the header describes it).
    """
    from ownscan.core.render import image_labels, scale_words

    if not (volume.is_2d or volume.extra.get("kind") == "frames"):
        return {"edge_labels": None, "scale_words": ""}
    return {"edge_labels": image_labels(volume), "scale_words": scale_words(volume)}


def projection_windows_json(volume: Volume) -> dict[str, Any]:
    """``{"projection_windows": {"maximum": {"name", "width", "level"}, "average": {...}}}``:
    the windows a MIP and an X-ray are drawn with when no window is chosen
    (``Scene.effective_window``: ``ownscan render --mode xray`` without ``--window``), from the
    volume strided to about 96 voxels a side (milliseconds); None for a 2D picture or colour.

    Parameters
    ----------
    volume
        The series' volume (as the header describes it).
    """
    from ownscan.core.render._autowindow import projection_window

    if volume.is_2d or volume.samples != 1 or volume.extra.get("kind") == "frames":
        return {"projection_windows": None}
    out = {}
    for how in ("maximum", "average"):
        w = projection_window(volume, how)
        out[how] = {"name": w.name, "width": float(w.width), "level": float(w.level)}
    return {"projection_windows": out}
