"""The 3D view's window for the projection modes, as ``ownscan render`` chooses it.

A slice window does not suit a projection (:mod:`ownscan.core.render._autowindow`): an X-ray
(each ray's average) of a CT under the soft-tissue window is black, a MIP of an MR clips to
white. ``ownscan render`` without ``--window`` takes the mode's automatic window
(:meth:`ownscan.core.render.Scene.effective_window`); the viewer does the same while the
series' default window is in use. A window the user chose (a preset, a drag) is used as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from ownscan.core.viewer._compare_state import CompareState
    from ownscan.core.viewer._state import SeriesView
    from ownscan.core.volume import Volume, WindowPreset

__all__ = ["prior_window_3d", "window_3d"]

# per volume, per kind of projection ("maximum", "average"): the window (a few ms to compute,
# once; forgotten with the volume)
_WINDOWS: WeakKeyDictionary[Volume, dict[str, WindowPreset]] = WeakKeyDictionary()


def window_3d(view: SeriesView, mode: Any) -> tuple[tuple[float, float], str | None]:
    """The window (width, level) the 3D view draws ``view``'s volume with in ``mode``, and
    the automatic window's name (``"auto (average projection)"``) where it replaces the
    series' default window; None where the view's own window is used.
    """
    auto = view.auto_window
    default_in_use = (
        view.window == (float(auto.width), float(auto.level)) and view.window_name == auto.name
    )
    if not mode.auto_window or mode.uses_transfer_function or not default_in_use:
        return view.window, None
    per_volume = _WINDOWS.setdefault(view.volume, {})
    if mode.auto_window not in per_volume:
        from ownscan.core.render import Scene

        # the render command's rule (e.g. a CT's MIP keeps its stored window), not a copy
        per_volume[mode.auto_window] = Scene(view.volume, mode).effective_window()
    w = per_volume[mode.auto_window]
    if w == auto:
        return view.window, None
    return (float(w.width), float(w.level)), w.name


def prior_window_3d(state: CompareState, mode: Any) -> tuple[tuple[float, float], str | None]:
    """:func:`window_3d` for the compared prior's 3D pane: linked, the current's through the
    intensity match (the two stay comparable); unlinked, the prior's own."""
    if state.linked:
        window, name = window_3d(state.current, mode)
        return state.prior_window(window), name
    return window_3d(state.prior, mode)
