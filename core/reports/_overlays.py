"""Overlay planes (groups 6000-601E): the graphics and regions of interest an image file
carries beside its pixels (a scanner's or a workstation's marks), read as bitmaps to be shown
as the file says."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ownscan.core.reports._sr import ReportError, _text, read_dataset_file

__all__ = ["OverlayPlane", "read_overlays"]


@dataclass(frozen=True)
class OverlayPlane:
    """One overlay plane of an image.

    ``bitmap`` is a bool array (frames, rows, columns); ``origin`` the (row, column) of the
    image where its top left bit lies (1-based: (1, 1) is the image's top left pixel, as DICOM
    writes it); ``kind`` ``G`` (graphics) or ``R`` (region of interest); ``first_frame`` the
    image frame its first frame belongs to (1-based).
    """

    group: int
    kind: str
    origin: tuple[int, int]
    bitmap: np.ndarray
    first_frame: int
    description: str
    label: str


def read_overlays(source: str | os.PathLike[str] | Any) -> list[OverlayPlane]:
    """Every overlay plane stored in its own Overlay Data element (6xxx,3000).

    Overlays embedded in unused high bits of the pixel data (retired since 2004) are not read.

    Raises
    ------
    ReportError
        An overlay whose data is shorter than its rows, columns and frames say (the message
        names the file and the group).
    """
    ds = read_dataset_file(source) if isinstance(source, (str, os.PathLike)) else source
    name = str(source) if isinstance(source, (str, os.PathLike)) else "dataset"
    out: list[OverlayPlane] = []
    for group in range(0x6000, 0x6020, 2):
        data = ds.get((group, 0x3000))
        if data is None or not data.value:
            continue
        rows = int(ds[group, 0x0010].value)
        cols = int(ds[group, 0x0011].value)
        frames = int(ds.get((group, 0x0015)).value or 1) if (group, 0x0015) in ds else 1
        bits = np.unpackbits(np.frombuffer(bytes(data.value), np.uint8), bitorder="little")
        need = rows * cols * frames
        if bits.size < need:
            raise ReportError(
                f"{name}: overlay {group:04X} holds {bits.size} bits, "
                f"{rows}x{cols}x{frames} need {need}"
            )
        origin = ds.get((group, 0x0050))
        row0, col0 = (int(origin.value[0]), int(origin.value[1])) if origin else (1, 1)
        first = ds.get((group, 0x0051))
        out.append(
            OverlayPlane(
                group=group,
                kind=_text(ds.get((group, 0x0040)).value if (group, 0x0040) in ds else "G"),
                origin=(row0, col0),
                bitmap=bits[:need].reshape(frames, rows, cols).astype(bool),
                first_frame=int(first.value) if first else 1,
                description=_text(ds[group, 0x0022].value) if (group, 0x0022) in ds else "",
                label=_text(ds[group, 0x1500].value) if (group, 0x1500) in ds else "",
            )
        )
    return out
