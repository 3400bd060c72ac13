"""What a file written for the user records of its series' warnings.

The medical truth rule: a series' warnings (uneven spacing, a gantry tilt, a sign the header got
wrong, irregular frame times...: :attr:`ownscan.core.assembly.Series.warnings` and what the
load adds, together :attr:`Volume.warnings`) follow its images wherever they go. Every file that
ownscan writes from a series' pixels records them the way its format allows (docs/EXPORT.md,
"Warnings in the files"): in the file when the format has a text field that holds them all
(NIfTI comment extension, PNG ``Warning`` chunk, OBJ/PLY comments, GIF comment, MP4 comment),
and in a sidecar ``NAME.warnings.txt`` beside it when the format has none or the file is one a
player or printer shows without its metadata (STL's 80-byte header, WebP, every movie).

A recorded warning names the series' files without their folders (:func:`shorten_names`):
a folder on the user's disk may be named after the patient, and an export carries no identity.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ownscan.core.volume import Volume

__all__ = [
    "SIDECAR_SUFFIX",
    "WARNING_KEYWORD",
    "one_line",
    "png_bytes",
    "recorded_warnings",
    "shorten_names",
    "sidecar_path",
    "sidecar_text",
]

#: PNG's registered keyword for "warning of nature of content" (PNG spec, 11.3.4.2)
WARNING_KEYWORD = "Warning"
#: what a sidecar's name adds to the name of the file it belongs to
SIDECAR_SUFFIX = ".warnings.txt"


def shorten_names(warnings: Sequence[str], files: Sequence[str]) -> list[str]:
    """``warnings`` as an exported file records them: the folders of the series' ``files``
    left out of the names (a folder on the user's disk may be named after the patient, and
    an export carries no identity), each file named as it is inside them."""
    folders = sorted({str(Path(f).parent) for f in files if "/" in f}, key=len, reverse=True)
    out = []
    for w in warnings:
        for folder in folders:
            w = w.replace(folder.rstrip("/") + "/", "")
        out.append(w)
    return out


def recorded_warnings(volume: Volume) -> list[str]:
    """The warnings of ``volume`` (what ``info``, ``render`` and the viewer show) as an
    exported file records them (:func:`shorten_names`)."""
    return shorten_names(volume.warnings, volume.extra.get("files") or ())


def one_line(text: str) -> str:
    """``text`` on one line, control characters as spaces: for formats whose comments end at
    a line break (OBJ ``#``, PLY ``comment``), so a warning cannot end the comment early."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)


def png_bytes(rgb: np.ndarray, said: Sequence[str] = ()) -> bytes:
    """The PNG of the RGB picture ``rgb``; ``said`` (:func:`recorded_warnings`) in an iTXt
    chunk of PNG's registered keyword ``Warning``, one a line (none without warnings)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = None
    if said:
        info = PngInfo()
        info.add_itxt(WARNING_KEYWORD, "\n".join(said))
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def sidecar_path(path: Path) -> Path:
    """The sidecar of ``path``: its whole name and ``.warnings.txt`` (``head.mp4`` ->
    ``head.mp4.warnings.txt``), so it sorts beside the file and says which file it is of."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sidecar_text(said: Sequence[str], name: str) -> str:
    """The sidecar's text: what it is of, then one warning a line."""
    head = f"ownscan: the series that {name} was made from has these warnings"
    return head + " (as `ownscan info` shows them):\n" + "".join(f"- {one_line(w)}\n" for w in said)
