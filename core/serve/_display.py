"""Presentation states as the page applies them (``presentation_states`` of
``GET /api/series/UID/marks``): the window, the image it goes to and that image's displayed
area (the zoom, PS3.3 C.10.4) placed in the patient, as the desktop viewer's "Apply"
(core/viewer/_radiologist.py) uses them. Rotation and flip are not applied (``rotated`` says
when a state asks for them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ownscan.core.reports import ImageRef, Marks

__all__ = ["presentation_states_json"]


def presentation_states_json(
    states: list[Marks],
    images: dict[str, Any],
    place: Callable[[ImageRef], dict[str, Any]],
    plane_of: Callable[[str, int], Any],
) -> list[dict[str, Any]]:
    """One entry per presentation state that applies to an image of this series.

    Parameters
    ----------
    states
        The marks of each marking document (only presentation states are used).
    images
        The series' instances by SOP Instance UID.
    place
        An image reference -> ``{"sop_instance_uid", "frame", "number", "lps"}``.
    plane_of
        ``(SOP Instance UID, frame)`` -> the image's pixel -> LPS map (``_marks._Plane``)
        or None.

    Returns
    -------
    list of dict
        ``{"document", "label", "window": {"center", "width", "explanation"} | None,
        "image": {...} | None, "area": {"corners": [4 LPS], "centre": LPS, "normal",
        "pixel_mm", "size_mode", "magnification"} | None, "rotated": bool}``. ``image`` is
        the first of its images in this series (annotated ones first, as the desktop goes);
        ``corners`` are the displayed area's corners (top left, top right, bottom right,
        bottom left; corner-based pixel coordinates, PS3.3 C.10.4: 1-based pixel numbers from
        the left edge of the first to the right edge of the last).
    """
    out = []
    for m in states:
        if not m.presentation_labels:  # not a presentation state (a KOS, an SR)
            continue
        records: list[Any] = [*m.annotations, *m.windows, *m.displayed_areas]
        if not records:
            continue
        refs = list({r.sop_instance_uid: r for x in records for r in x.images}.values())
        mine = [r for r in refs if r.sop_instance_uid in images]
        if not mine:
            continue
        ref = mine[0]
        win = next(
            (
                w
                for w in m.windows
                if not w.images or any(r.sop_instance_uid == ref.sop_instance_uid for r in w.images)
            ),
            None,
        )
        frame = ref.frames[0] if ref.frames else 1
        plane = plane_of(ref.sop_instance_uid, frame)
        area = next(
            (
                a
                for a in m.displayed_areas
                if not a.images or any(r.sop_instance_uid == ref.sop_instance_uid for r in a.images)
            ),
            None,
        )
        area_json = None
        if area is not None and plane is not None:
            x0, y0 = area.top_left[0] - 1.0, area.top_left[1] - 1.0
            x1, y1 = area.bottom_right
            normal = np.cross(plane.dx, plane.dy)
            normal = normal / (float(np.linalg.norm(normal)) or 1.0)
            area_json = {
                "corners": [plane.lps(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))],
                "centre": plane.lps((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                "normal": [round(float(v), 6) for v in normal],
                "pixel_mm": round(float(np.linalg.norm(plane.dx)), 6),
                "size_mode": area.size_mode,
                "magnification": area.magnification,
            }
        document = records[0].document
        out.append(
            {
                "document": document,
                "label": next((x for x in m.presentation_labels if x), "") or "presentation state",
                "window": None
                if win is None
                else {"center": win.center, "width": win.width, "explanation": win.explanation},
                "image": place(ref),
                "area": area_json,
                "rotated": ref.sop_instance_uid in m.rotation,
            }
        )
    return out
