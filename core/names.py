"""How people's names from DICOM files are written for people to read, and series for file
names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = ["display_name", "series_stem"]


def display_name(person_name: str | None, empty: str = "(no name)") -> str:
    """A DICOM Person Name written as people write names: ``"Citizen^Jan"`` -> ``"Jan Citizen"``.

    The components ``family^given^middle^prefix^suffix`` become ``prefix given middle family
    suffix``; of the ``alphabetic=ideographic=phonetic`` groups the first non-empty one is
    used. A name without any of them gives ``empty``. (One function for every listing, so
    that other rules for printed text, e.g. escaping, have one place to go.)

    Parameters
    ----------
    person_name
        The value as read (a ``str`` or pydicom's ``PersonName``), or None.
    empty
        What an absent or empty name reads as.
    """
    text = str(person_name or "")
    group = next((g for g in text.split("=") if g.strip(" ^")), "")
    parts = [p.strip() for p in group.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    words = [w for w in (prefix, given, middle, family, suffix) if w]
    return " ".join(" ".join(words).split()) or empty


def series_stem(volume: Volume) -> str:
    """A safe file-name stem from the series number and description (or the volume's label)."""
    label = str(volume.extra.get("label") or "")
    if not label:
        num = volume.info.series_number
        label = f"{num if num is not None else 'series'} {volume.info.series_description}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "series"
