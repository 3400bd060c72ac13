"""Where the bundled sample series lives (package data of ``ownscan.core``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["sample_path"]


def sample_path() -> Path:
    """The folder of the bundled sample: a real head MR series (studyforrest, PDDL licence).

    It holds the DICOM files plus LICENSE and PROVENANCE.md, which say where it comes from and
    exactly how it was derived. ``ownscan info --sample`` reads it.
    """
    return Path(__file__).resolve().parent / "sample"
