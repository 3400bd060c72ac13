"""Words for one stack of a series of several (one Series Instance UID that series assembly
splits into stacks of different orientation or geometry: a lumbar spine's axial stacks angled
to three discs, a three-plane scout, two reconstructions sharing one UID). Each stack is shown
on its own, never merged and never dropped, and these words say which one the patient sees:
the page (core/serve/_stacks.py) and the desktop viewer (core/viewer/_sources.py) use them
alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ownscan.core.assembly import Series

__all__ = ["plane_of", "stack_label", "stacks_of"]


def plane_of(direction: Any) -> str:
    """The plane a stack's slices lie in, from its direction matrix (columns: row, column and
    slice directions in LPS): ``axial``, ``coronal`` or ``sagittal``, with ``oblique `` before
    it when the slice normal is more than about 8 degrees off that axis."""
    normal = np.abs(np.asarray(direction, dtype=np.float64)[:, 2])
    axis = int(np.argmax(normal))
    plane = ("sagittal", "coronal", "axial")[axis]
    return plane if normal[axis] > 0.99 else f"oblique {plane}"


def stack_label(stack: Series, number: int, count: int) -> str:
    """What tells the patient which stack this is: ``stack 2 of 3, oblique axial, 8 images``;
    a 2D picture beside the stacks says what it is (``image``, ``localizer``, ``frames``)."""
    what = (
        stack.kind if stack.kind in ("image", "localizer", "frames") else plane_of(stack.direction)
    )
    images = stack.n_images
    return f"stack {number} of {count}, {what}, {images} image{'s' if images != 1 else ''}"


def stacks_of(series: list[Series]) -> list[Series]:
    """The stacks of one Series Instance UID as they are shown one by one and numbered: the
    3D stacks first, then every other picture of the series (a scout, a secondary capture or
    a cine sharing the UID), each an item of its own, so that nothing the series holds is
    left out of the viewer or the page because a volume is beside it (``info`` and
    ``render --series`` list every one too). A series without 3D stacks: every picture."""
    volumes = [s for s in series if s.kind == "volume"]
    return volumes + [s for s in series if s.kind != "volume"]
