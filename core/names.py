"""How people's names from DICOM files are written for people to read."""

from __future__ import annotations

__all__ = ["display_name"]


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
