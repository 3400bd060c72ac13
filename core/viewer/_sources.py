"""What the viewer can open: a list of series, each loaded on demand.

A :class:`SeriesEntry` is what the series browser lists: descriptive metadata for the
thumbnail caption, a loader that produces the :class:`~ownscan.core.volume.Volume` when the
user picks it, and the study's report text if there is one. Entries come from Volumes already
in memory (tests, scripts), from the personal library, or from a source opened directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ownscan.core.volume import SeriesInfo, Volume

__all__ = ["SeriesEntry", "entries_from_volumes", "thumbnail"]


@dataclass
class SeriesEntry:
    """One series the viewer can show.

    Parameters
    ----------
    key
        Unique key (the Series Instance UID where known).
    info
        What the browser shows: patient, study date, description, modality.
    load
        Returns the Volume; called when the series is first shown.
    report
        The study's report as text, shown beside the images, or None.
    """

    key: str
    info: SeriesInfo
    load: Callable[[], Volume]
    report: str | None = None
    _volume: Volume | None = field(default=None, repr=False)

    def volume(self) -> Volume:
        """The Volume, loaded once."""
        if self._volume is None:
            self._volume = self.load()
        return self._volume

    def caption(self) -> list[str]:
        """Lines under the thumbnail: patient, study date, series description."""
        i = self.info
        date = i.study_date
        if len(date) == 8 and date.isdigit():
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        series = i.series_description or (f"series {i.series_number}" if i.series_number else "")
        lines = [
            i.patient_name.replace("^", " ").strip() or "(no name)",
            " ".join(x for x in (date, i.modality) if x) or "(no date)",
            series or "(no description)",
        ]
        return lines


def entries_from_volumes(volumes: Iterable[Volume]) -> list[SeriesEntry]:
    """Wrap Volumes already in memory as browser entries."""
    out = []
    for n, v in enumerate(volumes):
        key = v.info.series_instance_uid or f"volume-{n}"
        out.append(SeriesEntry(key, v.info, (lambda v=v: v), _volume=v))
    return out


def thumbnail(volume: Volume, size: int = 72) -> npt.NDArray[np.uint8]:
    """A ``(size, size, 3)`` preview: the middle stored slice with the default window.

    The slice keeps its physical aspect ratio (pixel spacing) and is centred on black.
    """
    z = volume.shape[0] // 2
    img = volume.voxels[z]
    if img.ndim == 3:  # colour
        img = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    w = volume.default_window()
    lo = w.level - w.width / 2.0
    grey = np.clip((img.astype(np.float32) - lo) / w.width, 0.0, 1.0)
    if volume.invert:
        grey = 1.0 - grey
    rows, cols = grey.shape
    sx, sy = volume.spacing[0], volume.spacing[1]
    width_mm, height_mm = cols * sx, rows * sy
    scale = size / max(width_mm, height_mm)
    out_w = max(1, round(width_mm * scale))
    out_h = max(1, round(height_mm * scale))
    ri = np.minimum(((np.arange(out_h) + 0.5) / out_h * rows).astype(int), rows - 1)
    ci = np.minimum(((np.arange(out_w) + 0.5) / out_w * cols).astype(int), cols - 1)
    small = (grey[np.ix_(ri, ci)] * 255.0 + 0.5).astype(np.uint8)
    canvas = np.zeros((size, size), np.uint8)
    y0, x0 = (size - out_h) // 2, (size - out_w) // 2
    canvas[y0 : y0 + out_h, x0 : x0 + out_w] = small
    return np.repeat(canvas[:, :, None], 3, axis=2)
