"""Which of two files with one SOP Instance UID to keep: the one whose image decodes.

A hospital CD may hold a damaged copy of an instance beside a good one (a bad sector, a
truncated download), and the order in which they reach the library is chance. The library
keeps the copy that decodes, whatever the order, and sets the other aside in ``conflicts/``
(:meth:`ImportSession._settle`). Only conflicts pay for this: both files are decoded once.
"""

from __future__ import annotations

from pathlib import Path

from ownscan.core.dicom import NotDicom, ReadProblem

__all__ = ["why_not_decodable"]


def why_not_decodable(path: Path) -> str | None:
    """None when the instance at ``path`` has pixel data and every frame of it decodes; else
    why not, in a few words (an instance without an image, an SR or a PDF, says so)."""
    from ownscan.core._pixels import _decode_task
    from ownscan.core.dicom import read_frames

    try:
        frames = read_frames(path)
    except NotDicom as exc:
        return str(exc) or "no image"
    except (ReadProblem, OSError) as exc:
        return str(exc) or type(exc).__name__
    if not frames:
        return "no pixel data"
    try:
        decoded = _decode_task(frames)
    except (MemoryError, ValueError, OSError) as exc:
        return f"cannot decode ({type(exc).__name__}: {exc})"
    for got in decoded:
        if isinstance(got, str):
            return got
    return None
