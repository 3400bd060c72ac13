"""The viewer's "Save": the exporters that fit the open series, an output path, the export on a
thread with its progress, and the outcome.

The exporters are the plugin host's (``ownscan plugins``), a third party's too. Which fit the
series shown (:func:`fitting_exporters`): an exporter that rewrites the original DICOM files
(``export_sources``: ``dicom-anon``, ``share``) when the viewer knows the series' files; any
other when its optional ``fits(volume)`` says nothing against it (the surface formats want a
grey volume of several slices). The export runs on a thread (:class:`SaveJob`) while the
window draws; :func:`ownscan.plugins._output.progress` reports each item the exporter writes
(frames, slices) to it, and an exporter that reports nothing shows a moving bar and its
seconds. The exporters write their outputs nameless and link them when complete: closing the
window mid-export leaves nothing half-written under a real name.

The series' warnings (what the views show in orange) go with what is saved: each exporter
records them in or beside its files as its format allows (docs/EXPORT.md, "Warnings in the
files"), and the outcome says them: the first in the status line, every one in the window.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import OwnscanError
from ownscan.core.viewer._jobs import ThreadJob
from ownscan.core.volume import Volume

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["SaveDialog", "SaveJob", "default_output", "fitting_exporters", "view_options"]

log = logging.getLogger(__name__)


def fitting_exporters(
    exporters: Sequence[Any], volume: Volume, has_sources: bool
) -> list[tuple[Any, str | None]]:
    """Every exporter with the reason it does not fit the series (None: it fits)."""
    out: list[tuple[Any, str | None]] = []
    for ex in exporters:
        why: str | None = None
        if getattr(ex, "export_sources", None) is not None:
            if not has_sources:
                why = "needs the series' original DICOM files (open it from the library)"
        else:
            fits = getattr(ex, "fits", None)
            if fits is not None:
                why = fits(volume)
        out.append((ex, why))
    return out


def default_output(exporter: Any, stem: str, home: Path | None = None) -> Path:
    """A free path in the user's Downloads folder (home if there is none): ``stem-format``, a
    folder for formats that write several files; single-file exporters add their suffix."""
    home = home or Path.home()
    folder = home / "Downloads" if (home / "Downloads").is_dir() else home
    base = f"{stem}-{exporter.name}"
    for n in range(1, 1000):
        name = base if n == 1 else f"{base}-{n}"
        if not any(p.name.startswith(name + ".") or p.name == name for p in _listing(folder)):
            return folder / name
    return folder / f"{base}-{int(time.time())}"


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def view_options(viewer: Viewer, three_d: bool = False) -> dict[str, Any]:
    """What the viewer shows as export options: the window; with ``three_d`` also the 3D
    view's mode, colours and camera (a picture or turntable "as the 3D view shows it";
    without, pictures and cines go through the slices, as the exporters do by default)."""
    v = viewer.view
    width, level = v.window
    options: dict[str, Any] = {"window": width, "level": level}
    if three_d:
        options |= {
            "mode": viewer.mode,
            "azimuth": v.camera.azimuth,
            "elevation": v.camera.elevation,
            "zoom": v.camera.zoom,
        }
        if viewer._mode_objects[viewer.mode].uses_transfer_function:
            options["preset"] = viewer.tf_presets[viewer.tf_index].name
    return options


class SaveJob(ThreadJob[list[Path]]):
    """One export on a thread.

    ``done``/``total``: items written so far as the exporter reports them (0 and 0 when it
    reports nothing); ``paths`` what it wrote once finished; ``error`` why it failed.
    """

    def __init__(
        self,
        exporter: Any,
        volume: Volume,
        sources: Callable[[], list[Any]] | None,
        output: Path,
        options: dict[str, Any],
    ) -> None:
        self.exporter = exporter
        self.output = output
        #: the series' warnings (what the views show): the export records them in or beside
        #: its files (each exporter as its format allows) and the outcome says them
        self.warnings = list(volume.warnings)
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        work = functools.partial(self._export, volume, sources, options)
        super().__init__(work, f"ownscan-save-{exporter.name}")

    @property
    def paths(self) -> list[Path]:
        return self.result or []

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _export(
        self, volume: Volume, sources: Callable[[], list[Any]] | None, options: dict[str, Any]
    ) -> list[Path]:
        from ownscan.core.progress import report_progress

        with report_progress(self._progress):
            export_sources = getattr(self.exporter, "export_sources", None)
            if export_sources is not None:
                assert sources is not None
                return list(export_sources(sources(), self.output, options))
            return list(self.exporter.export([volume], self.output, options))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class SaveDialog:
    """The Save window: pick a format that fits, the path, Save; progress, then the outcome.

    Attributes
    ----------
    open
        Whether the window is shown (the toolbar's Save button and Ctrl+S open it).
    job
        The export running or last run, or None.
    outcome
        What the last export did, in words (the paths written, or why it failed).
    """

    def __init__(self, viewer: Viewer) -> None:
        self.v = viewer
        self.open = False
        self.job: SaveJob | None = None
        self.outcome = ""
        self.failed = False
        self.choice = 0
        self.three_d = False  # export "as the 3D view shows it"
        self.path = ""
        self._path_for: tuple[str, str] | None = None  # (series key, format) of the default
        #: where its controls were drawn in the last frame, framebuffer pixels (x0, y0, x1, y1)
        #: by name (``format:NAME``, ``path``, ``save``): for scripts and tests
        self.places: dict[str, tuple[float, float, float, float]] = {}

    def choices(self) -> list[tuple[Any, str | None]]:
        from ownscan.core.plugin_host import get_host

        entry = self.v.entry
        has_sources = getattr(entry, "sources", None) is not None
        return fitting_exporters(get_host().exporters(), self.v.view.volume, has_sources)

    def start(
        self,
        exporter: Any,
        output: Path,
        options: dict[str, Any] | None = None,
        three_d: bool | None = None,
    ) -> SaveJob:
        """Export the shown series with ``exporter`` to ``output`` on a thread, with the
        viewer's window (and its 3D view's mode, colours and camera when ``three_d``; None:
        the dialog's checkbox)."""
        if self.job is not None and not self.job.finished:
            raise OwnscanError("an export is running; wait for it to finish")
        as_3d = self.three_d if three_d is None else three_d
        # a colour series has no 3D view (the renderer casts rays through grey volumes only):
        # its pictures and cine are its slices or frames in colour, whatever the checkbox says
        grey_3d = not self.v.view.is_2d and self.v.view.volume.samples == 1
        opts = {**view_options(self.v, as_3d and grey_3d), **(options or {})}
        entry = self.v.entry
        self.outcome, self.failed = "", False
        self.job = SaveJob(
            exporter, self.v.view.volume, getattr(entry, "sources", None), output, opts
        )
        return self.job

    def poll(self) -> None:
        """Turn a finished export into its outcome (the window's thread)."""
        job = self.job
        if job is None or not job.finished or self.outcome:
            return
        if job.error is None:
            n = len(job.paths)
            # a single-file format's file comes first (then a sidecar of its warnings)
            single = n == 1 or (n > 1 and not job.exporter.writes_folder)
            where = job.paths[0] if single else job.output
            self.outcome = f"saved {n} file{'s' if n != 1 else ''}: {where}"
            self.failed = False
            status = self.outcome
            if job.warnings:  # handed on with the file: said here too, as the views say it
                ws = job.warnings
                more = f" (+{len(ws) - 1} more)" if len(ws) > 1 else ""
                status += f"; Warning: {ws[0]}{more}"
            self.v._flash(status, seconds=10.0)
            return
        if not isinstance(job.error, (OwnscanError, OSError, ValueError, ImportError)):
            self.job = None
            raise job.error  # a bug: not a message for the user
        self.outcome = f"not saved: {job.error}"
        self.failed = True
        log.error("%s export to %s failed: %s", job.exporter.name, job.output, job.error)

    def draw(self) -> None:
        """The Save window, centred, when open."""
        self.poll()
        if not self.open:
            return
        imgui = self.v.imgui
        win = self.v.win
        fw, fh = win.fb_size
        imgui.set_next_window_pos(
            win.ui(fw / 2, fh / 2), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5)
        )
        k = win.font_scale
        # as large as its content, within the window (a small window scrolls it instead)
        limit = win.ui(fw * 0.9, fh * 0.9)
        imgui.set_next_window_size_constraints(
            imgui.ImVec2(min(460 * k, limit.x), 0), imgui.ImVec2(min(720 * k, limit.x), limit.y)
        )
        wf = imgui.WindowFlags_
        flags = wf.no_collapse | wf.no_saved_settings | wf.always_auto_resize
        shown, keep = imgui.begin("Save the series", True, flags)
        if shown:
            self._draw_body()
        imgui.end()
        if keep is False:
            self.open = False

    def _draw_body(self) -> None:
        imgui = self.v.imgui
        choices = self.choices()
        entry = self.v.entry
        imgui.text_wrapped(" ".join(entry.caption()))
        imgui.separator()
        for i, (ex, why) in enumerate(choices):
            imgui.begin_disabled(why is not None)
            if imgui.radio_button(f"{ex.name}##fmt", self.choice == i) and why is None:
                self.choice = i
            self.places[f"format:{ex.name}"] = self.v.win.item_rect()
            imgui.end_disabled()
            imgui.same_line()
            imgui.text_disabled(why or ex.description)
        if not 0 <= self.choice < len(choices) or choices[self.choice][1] is not None:
            self.choice = next((i for i, (_, w) in enumerate(choices) if w is None), 0)
        exporter, why = choices[self.choice]
        key = (entry.key, exporter.name)
        if self._path_for != key:
            from ownscan.core.names import series_stem

            self.path = str(default_output(exporter, series_stem(self.v.view.volume)))
            self._path_for = key
        imgui.text("Save to" + (" (a folder)" if exporter.writes_folder else " (a file)"))
        imgui.set_next_item_width(-1)
        _changed, self.path = imgui.input_text("##path", self.path)
        self.places["path"] = self.v.win.item_rect()
        if not self.v.view.is_2d and self.v.view.volume.samples == 1:
            _changed, self.three_d = imgui.checkbox(
                "as the 3D view shows it (mode, colours, camera)", self.three_d
            )
            if imgui.is_item_hovered():
                imgui.set_tooltip("unticked: pictures and cines go through the slices")
        running = self.job is not None and not self.job.finished
        imgui.begin_disabled(running or why is not None or not self.path.strip())
        if imgui.button("Save"):
            self.start(exporter, Path(self.path.strip()).expanduser())
        self.places["save"] = self.v.win.item_rect()
        imgui.end_disabled()
        job = self.job
        if job is not None and running:
            imgui.same_line()
            if job.total:
                imgui.progress_bar(
                    job.done / job.total, imgui.ImVec2(-1, 0), f"{job.done}/{job.total}"
                )
            else:  # the exporter reports no items: the seconds so far
                t = job.elapsed
                imgui.progress_bar(-1.0 * t, imgui.ImVec2(-1, 0), f"{t:.0f} s")
        elif self.outcome:
            colour = (1.0, 0.55, 0.3, 1.0) if self.failed else (0.6, 0.9, 0.6, 1.0)
            imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(*colour))
            imgui.text_wrapped(self.outcome)
            imgui.pop_style_color()
            if job is not None and not self.failed and job.warnings:
                # every warning, in the views' orange: the saved files carry them
                imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.6, 0.15, 1.0))
                for w in job.warnings:
                    imgui.text_wrapped(f"Warning: {w}")
                imgui.pop_style_color()
