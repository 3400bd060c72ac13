"""Series of more than one picture for the page: 4D series (volume by volume) and multi-frame
2D images (an ultrasound cine).

A 4D series is an ordered sequence of 3D volumes sharing one geometry (docs/ARCHITECTURE.md);
the page shows one at a time and asks for the next (``?volume=N`` on the header, the voxels and
``render.png``). Assembling a series reads every header of it (6,000 files for an fMRI run), so
the assembled :class:`~ownscan.core.assembly.Series` is kept per series version and every volume
is decoded from it, instead of assembling the files again for each volume.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import OwnscanError

if TYPE_CHECKING:
    from ownscan.core.assembly import Series
    from ownscan.core.plugin_types import SourceItem
    from ownscan.core.volume import Volume

__all__ = ["Assemblies", "cine_json", "four_d_json"]


class Assemblies:
    """Assembled series by ``(uid, version)``, the newest ``keep`` of them.

    Parameters
    ----------
    keep
        How many assemblies to keep (each holds its frames' header records, not voxels).
    """

    def __init__(self, keep: int = 4) -> None:
        self._keep = keep
        self._items: OrderedDict[tuple[str, tuple[int, int]], list[Series]] = OrderedDict()
        self._lock = threading.Lock()

    def series(self, uid: str, version: tuple[int, int], items: list[SourceItem]) -> list[Series]:
        """The stacks of ``items`` (assembled once per version), as ``_stacks.stacks_of``
        orders them: the 3D stacks, then the 2D pictures beside them (a scout, a secondary
        capture); more than one when the Series Instance UID holds several (each is shown on
        its own: ``_stacks.py``).

        Raises
        ------
        OwnscanError
            No image in the series.
        """
        key = (uid, version)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        from ownscan.core._stacks import stacks_of
        from ownscan.core.assembly import assemble

        assembly = assemble(items)
        stacks = stacks_of(assembly.series)  # the 3D stacks, then the 2D pictures beside them
        if not stacks:
            why = "; ".join(str(p) for p in (assembly.errors + assembly.skipped)[:3])
            raise OwnscanError("no DICOM image found" + (f" ({why})" if why else ""))
        # a file of the series that could not be read is said, not only seen as a gap
        for problem in assembly.errors:
            note = f"left out, could not be read: {problem}"
            for stack in stacks:
                if note not in stack.warnings:
                    stack.warnings.append(note)
        with self._lock:
            for stale in [k for k in self._items if k[0] == uid]:
                del self._items[stale]
            self._items[key] = stacks
            while len(self._items) > self._keep:
                self._items.popitem(last=False)
        return stacks


def four_d_json(volume: Volume) -> dict[str, Any]:
    """The header's 4th dimension: which volume this is, how many, and what they are.

    ``dimension`` is :meth:`ownscan.core.volume.Dimension.to_dict` (``name``: time, diffusion,
    cardiac phase, acquisition or repetition; ``values`` per volume in ``unit``; ``b_values``
    and ``b_vectors_lps`` for diffusion), or None for a 3D series.
    """
    from ownscan.core.volume import Dimension

    dim = volume.extra.get("dimension")
    return {
        "volume": int(volume.extra.get("volume") or 0),
        "n_volumes": int(volume.extra.get("n_volumes") or 1),
        "dimension": dim.to_dict() if isinstance(dim, Dimension) else None,
    }


def cine_json(volume: Volume, series: Series | None) -> dict[str, Any] | None:
    """For a multi-frame image without slice geometry (``kind`` frames: an ultrasound cine, a
    secondary-capture clip), the frame count and the rate it is played at: the series' own
    (:attr:`ownscan.core.assembly.Series.cine`: Frame Time, Frame Time Vector, Cine Rate,
    Recommended Display Frame Rate), the one rule that ``info``, the NIfTI and the movie
    follow too; None when the file gives no timing; else None."""
    if volume.extra.get("kind") != "frames":
        return None
    cine = series.cine if series is not None else None
    return {"frames": int(volume.shape[0]), "fps": None if cine is None else round(cine[0], 3)}
