"""Series of several stacks for the page: one Series Instance UID that assembly splits into
stacks of different orientation or geometry (a lumbar spine's axial stacks angled to three
discs, a three-plane scout, two reconstructions sharing one UID).

Each stack is shown on its own, never merged into one volume and never dropped: it is named
``UID~N`` (N from 1, the assembly's order) wherever the page names a series (the header, the
voxels, ``render.png``, ``thumbnail.png``, the ``#/series/`` address). A plain ``UID`` of such
a series shows stack 1, with a warning that says the others are there. ``~`` cannot be part of
a DICOM UID, so a one-stack series keeps its plain address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core._stacks import split_id, stack_id, stack_label

if TYPE_CHECKING:
    from ownscan.core.assembly import Series
    from ownscan.core.library import StackInfo

__all__ = [
    "indexed_stacks",
    "listed_stacks",
    "remember_stacks",
    "split_id",
    "stack_id",
    "stacks_json",
]


def stacks_json(uid: str, stacks: list[Series], number: int) -> dict[str, Any]:
    """The header's ``stack`` (which one is shown: ``number``, ``count``, ``label``) and
    ``stacks`` (every stack: ``id`` to open it by, ``label``); for a one-stack series
    ``stack`` is None and ``stacks`` empty."""
    if len(stacks) < 2:
        return {"stack": None, "stacks": []}
    count = len(stacks)
    every = [
        {
            "id": stack_id(uid, n),
            "number": n,
            "label": stack_label(s, n, count),
            "images": s.n_images,
        }
        for n, s in enumerate(stacks, 1)
    ]
    return {"stack": every[number - 1], "stacks": every}


def remember_stacks(path: Path, stacks: list[dict[str, Any]]) -> None:
    """Keep the stacks of a series version (``stacks_json``'s ``stacks``, with their image
    counts) in ``path`` beside its thumbnail, so that the library's list, which does not
    assemble series, shows each stack once the series was assembled (opened, or its
    thumbnail drawn), also after a restart. A file that cannot be written is no loss: the
    viewer still names every stack."""
    if path.is_file():
        return
    try:
        series_key = path.name.split("-")[1]
        for old in path.parent.glob(f"stacks-{series_key}-*.json"):
            old.unlink(missing_ok=True)  # of an older version of the series
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stacks), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def listed_stacks(path: Path) -> list[dict[str, Any]]:
    """The stacks :func:`remember_stacks` kept in ``path`` (``id``, ``label``, ``images``,
    ``thumbnail``), or none."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(found, list):
        return []
    return [
        {**s, "thumbnail": f"/api/series/{s['id']}/thumbnail.png"}
        for s in found
        if isinstance(s, dict) and isinstance(s.get("id"), str) and split_id(s["id"])[1]
    ]


def indexed_stacks(uid: str, stacks: tuple[StackInfo, ...]) -> list[dict[str, Any]]:
    """The library list's ``stacks`` of a series from what the index recorded at import
    (``Series.stacks``): none for a one-stack series, else each stack with its ``id``,
    ``label``, ``images``, ``plane``, ``rows``, ``columns`` and ``thumbnail``."""
    if len(stacks) < 2:
        return []
    return [
        {
            "id": stack_id(uid, s.number),
            "number": s.number,
            "label": s.label,
            "images": s.images,
            "plane": s.plane,
            "rows": s.rows,
            "columns": s.columns,
            "thumbnail": f"/api/series/{stack_id(uid, s.number)}/thumbnail.png",
        }
        for s in stacks
    ]
