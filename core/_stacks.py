"""Words for one stack of a series of several (one Series Instance UID that series assembly
splits into stacks of different orientation or geometry: a lumbar spine's axial stacks angled
to three discs, a three-plane scout, two reconstructions sharing one UID). Each stack is shown
on its own, never merged and never dropped, and these words say which one the patient sees:
the page (core/serve/_stacks.py) and the desktop viewer (core/viewer/_sources.py) use them
alike.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ownscan.core.assembly import Series

__all__ = [
    "plane_of",
    "split_id",
    "stack_id",
    "stack_label",
    "stack_plane",
    "stacks_of",
    "words",
]

_SUFFIX = re.compile(r"^(.*)~([1-9][0-9]{0,3})$")


def split_id(shown: str) -> tuple[str, int | None]:
    """``"UID~2"`` -> ``("UID", 2)``; ``"UID"`` -> ``("UID", None)``: a series' name (the
    page's, a library listing's) to its Series Instance UID and stack number, from 1. ``~``
    is never part of a DICOM UID, so a one-stack series keeps its plain UID."""
    m = _SUFFIX.match(shown)
    return (m.group(1), int(m.group(2))) if m else (shown, None)


def stack_id(uid: str, number: int) -> str:
    """The name of stack ``number`` (from 1) of series ``uid``."""
    return f"{uid}~{number}"


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
    return words(stack_plane(stack), number, count, stack.n_images)


def stack_plane(stack: Series) -> str:
    """What a stack is, in a word: ``image``, ``localizer`` or ``frames`` for a 2D picture
    beside the stacks, else the stack's :func:`plane_of`."""
    if stack.kind in ("image", "localizer", "frames"):
        return stack.kind
    return plane_of(stack.direction)


def words(plane: str, number: int, count: int, images: int) -> str:
    """:func:`stack_label` from what a library's index keeps of a stack."""
    return f"stack {number} of {count}, {plane}, {images} image{'s' if images != 1 else ''}"


def stacks_of(series: list[Series]) -> list[Series]:
    """The stacks of one Series Instance UID as they are shown one by one and numbered: the
    3D stacks first, then every other picture of the series (a scout, a secondary capture or
    a cine sharing the UID), each an item of its own, so that nothing the series holds is
    left out of the viewer or the page because a volume is beside it (``info`` and
    ``render --series`` list every one too). A series without 3D stacks: every picture."""
    volumes = [s for s in series if s.kind == "volume"]
    return volumes + [s for s in series if s.kind != "volume"]
