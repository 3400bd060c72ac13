"""Whether the image header of a file being imported tells the truth, said at import.

The library keeps every readable instance as it is (nothing is lost: a later ownscan may read
more of it), but a header that lies about its image (Rows 0, Bits Allocated 13, a Number of
Frames the file cannot hold, pixel data shorter than declared, a compressed transfer syntax
over plain bytes) is named when the file arrives, not first when it is drawn. The checks are
the reader's own (:func:`ownscan.core.dicom.read_frames`, header only: no pixel is decoded),
so that import, ``info``, ``render`` and ``export`` say the same words.
"""

from __future__ import annotations

from ownscan.core.dicom import NotDicom, ReadProblem
from ownscan.core.plugin_types import SourceItem

__all__ = ["image_problem"]


def image_problem(data: bytes) -> str | None:
    """Why the image of the DICOM instance in ``data`` cannot be drawn as its header says, or
    None when its header holds together (or it has no image: a report, a 1-bit overlay).
    Values the reader sets aside as untrue and replaces (it says so) are named too.

    Parameters
    ----------
    data
        The whole file, already read by the import (its header is read again; the pixel
        data is located and measured, never decoded).
    """
    from ownscan.core.dicom import read_frames

    try:
        frames = read_frames(SourceItem(origin="", data=data))
    except NotDicom:
        return None  # no image to lie about; the import's own header read has judged it
    except (ReadProblem, MemoryError, ValueError, OverflowError) as exc:
        return str(exc) or type(exc).__name__
    # header values the reader set aside as untrue (Samples per Pixel 0, pixel data twice
    # what Rows x Columns need...): the words info gives as "untrue header value in" warnings
    notes = list(dict.fromkeys(n for fr in frames for n in fr.notes))
    return "; ".join(notes) or None
