"""Comparing the open series with a prior one: the choice of prior and the linked state.

Plain numpy, no window (tested without a display); ``_compare.py`` draws what this says.

About the linking
-----------------
The registration's matrix ``M`` maps the **current** series' LPS millimetres to the prior's
(:class:`~ownscan.core.compare.Registration`). While linked, every pane is a view of the
current's :class:`~ownscan.core.viewer.SeriesView`: its crosshair, slices, zoom, pan, window
and 3D camera. The prior's pane shows the same plane of the current's patient space, the prior
sampled at ``M p`` for each pixel's point ``p``; so the pixel under the mouse is the same
anatomy in both panes, a click in either moves the one crosshair there, and a scroll, zoom, pan
or window drag in either moves both. The prior's window is the current's mapped through the
intensity match (the identity for a CT pair, in HU both). Its 3D camera is the current's turned
by ``M``'s rotation, centred on ``M`` of the current's screen centre and scaled to the same mm
per pixel (:func:`linked_camera`). "Unlink" gives the prior a viewing state of its own, in its
own coordinates, starting where the linked one was. With registration off ("scanner
coordinates") ``M`` is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError
from ownscan.core.viewer._sources import SeriesEntry
from ownscan.core.viewer._state import SeriesView

__all__ = [
    "COMPARE_MODES",
    "COMPARE_PLANES",
    "FLICKER_S",
    "CompareState",
    "PriorChoice",
    "linked_camera",
    "prior_choices",
]

# what the third pane shows (side-by-side has none)
COMPARE_MODES: tuple[str, ...] = ("side-by-side", "difference", "flicker", "overlay")
COMPARE_PLANES: tuple[str, ...] = ("axial", "coronal", "sagittal", "3d")
FLICKER_S = 0.6  # seconds each of prior and current stays in the flicker pane

Vec = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PriorChoice:
    """A series the open one can be compared with.

    Attributes
    ----------
    index
        Its index in the viewer's entries.
    proposed
        The library proposes it as a prior (same patient, modality, earlier; ranked).
    score, reasons
        The library's score and reasons (None / empty for other series).
    same_patient, differences
        :func:`~ownscan.core.compare.patient_check` of the two series' identifiers; a
        comparison of different patients must be forced.
    """

    index: int
    label: str
    proposed: bool
    score: float | None
    reasons: tuple[str, ...]
    same_patient: bool
    differences: tuple[str, ...]


def prior_choices(
    entries: Sequence[SeriesEntry], current: int, library: Any = None
) -> list[PriorChoice]:
    """The series ``entries[current]`` can be compared with: the library's proposed priors
    first (best first), then every other series (same patient first, most recent first).

    Parameters
    ----------
    entries
        The viewer's series.
    current
        The index of the open series.
    library
        The open library the entries come from, or None (no proposals then).
    """
    from ownscan.core.compare import patient_check, propose_priors

    cur = entries[current]
    by_key = {e.key: i for i, e in enumerate(entries)}
    proposals: list[tuple[int, float, tuple[str, ...]]] = []
    if library is not None:
        try:
            found = propose_priors(library, cur.key)
        except (OwnscanError, LookupError, StopIteration):  # not a library series
            found = []
        for c in found:
            i = by_key.get(c.uid, by_key.get(c.series.series_uid))  # a stack: UID~N
            if i is not None:
                proposals.append((i, c.score, c.reasons))
    out: list[PriorChoice] = []
    for i, score, reasons in proposals:
        same, diff = patient_check(entries[i].info, cur.info)
        out.append(PriorChoice(i, _label(entries[i]), True, score, reasons, same, tuple(diff)))
    taken = {i for i, _, _ in proposals} | {current}
    others: list[PriorChoice] = []
    for i, e in enumerate(entries):
        if i in taken:
            continue
        same, diff = patient_check(e.info, cur.info)
        others.append(PriorChoice(i, _label(e), False, None, (), same, tuple(diff)))
    # same patient first, then the most recent study first (dates are YYYYMMDD)
    others.sort(key=lambda c: (not c.same_patient, _negated(entries[c.index].info.study_date)))
    return out + others


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in text)


def _label(entry: SeriesEntry) -> str:
    return "  ".join(entry.caption()[1:]) + f"  ({entry.caption()[0]})"


def linked_camera(
    current: SeriesView, prior: SeriesView, matrix: npt.ArrayLike, size: tuple[int, int]
) -> Any:
    """The prior's 3D camera that shows what the current's camera shows, through ``matrix``
    (current LPS -> prior LPS): :func:`ownscan.core.compare.linked_camera` (the page's compare
    view uses the same) with the viewer's own pixel size of the current's 3D view.

    Returns an :class:`ownscan.core.render.Camera` (with roll: a rotation has three angles).
    """
    from ownscan.core.compare import linked_camera as turned

    return turned(
        current.camera,
        current.volume,
        prior.volume,
        matrix,
        size,
        mm_per_px=current.mm_per_px_3d(size),
    )


class CompareState:
    """The viewing state of a comparison: which panes, linked or not, the prior's own state.

    Parameters
    ----------
    current
        The open series' viewing state (the viewer's; linked panes act on it).
    prior
        The prior's own viewing state (used when unlinked).
    matrix
        Current LPS -> prior LPS (4x4); the identity until a registration is known.
    """

    def __init__(self, current: SeriesView, prior: SeriesView, matrix: npt.ArrayLike) -> None:
        self.current = current
        self.prior = prior
        self.matrix: Vec = np.asarray(matrix, dtype=np.float64)
        self.mode = "side-by-side"
        self.plane = "axial" if "axial" in current.views else current.view_names[0]
        self.linked = True
        # the prior's intensities on the current's scale: current ~ prior * scale + offset
        self.scale = 1.0
        self.offset = 0.0

    # -- panes ---------------------------------------------------------------------------------
    def pane_names(self) -> tuple[str, ...]:
        """Left to right: the prior, the current, then the difference / flicker / overlay
        (2D planes only)."""
        p = self.plane
        names: tuple[str, ...] = (f"prior:{p}", p)
        if self.mode != "side-by-side" and p != "3d":
            names += (f"fused:{p}",)
        return names

    def set_plane(self, plane: str) -> None:
        if plane not in COMPARE_PLANES:
            raise ValueError(f"unknown plane {plane!r}; valid: {', '.join(COMPARE_PLANES)}")
        if plane == "3d" and "3d" not in self.current.view_names:
            raise ValueError("this series has no 3D view")
        self.plane = plane

    def set_mode(self, mode: str) -> None:
        if mode not in COMPARE_MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(COMPARE_MODES)}")
        self.mode = mode

    @staticmethod
    def split(name: str) -> tuple[str, str]:
        """``("prior", "axial")`` for ``"prior:axial"``, ``("current", "axial")`` for
        ``"axial"``."""
        kind, _, base = name.rpartition(":")
        return (kind or "current", base)

    def target(self, name: str) -> tuple[SeriesView, str]:
        """The viewing state a pane's mouse and keys act on, and the view's name in it."""
        kind, base = self.split(name)
        if kind == "prior" and not self.linked:
            return self.prior, base
        return self.current, base

    # -- linking -------------------------------------------------------------------------------
    def to_prior(self, p_lps: npt.ArrayLike) -> Vec:
        """A current LPS point in the prior's LPS."""
        p = np.asarray(p_lps, dtype=np.float64)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def to_current(self, p_lps: npt.ArrayLike) -> Vec:
        """A prior LPS point in the current's LPS."""
        inv = np.linalg.inv(self.matrix)
        p = np.asarray(p_lps, dtype=np.float64)
        return p @ inv[:3, :3].T + inv[:3, 3]

    def prior_window(self, current: tuple[float, float] | None = None) -> tuple[float, float]:
        """The window the prior is drawn with: linked, the current's (or ``current``: the
        current's 3D window) through the intensity match; unlinked, its own."""
        if not self.linked:
            return self.prior.window
        width, level = self.current.window if current is None else current
        return (width / self.scale, (level - self.offset) / self.scale)

    def set_linked(self, linked: bool) -> None:
        """Link or unlink. Unlinking starts the prior's own state where the linked panes were:
        its crosshair on the same anatomy, the same zoom, window and 3D angles."""
        if linked == self.linked:
            return
        if not linked:
            p, c = self.prior, self.current
            p.cursor_lps = self.to_prior(c.cursor_lps)
            p.window = self.prior_window()
            p.window_name = "custom"
            for name, pv in p.views.items():
                if name in c.views:
                    pv.zoom = c.views[name].zoom
            p.camera.azimuth, p.camera.elevation = c.camera.azimuth, c.camera.elevation
            p.camera.zoom = c.camera.zoom
        self.linked = linked

    def flicker_shows_prior(self, now: float) -> bool:
        """Which of the two the flicker pane shows at time ``now`` (seconds)."""
        return int(now / FLICKER_S) % 2 == 0
