"""The library of the page's sweep tests (``test_browser_sweep_*.py``): one series of every kind
the page shows, imported by ``ownscan import``, several under hostile text.

- a generated CT (64 x 64 x 40, asymmetric), its enhanced multi-frame copy, a copy with a
  missing slice (a series with a warning: resampled onto a regular grid), a PDF and a Structured
  Report whose text is hostile; the CT's patient name, study and series descriptions and
  institution are hostile (markup, ``</script>``, quotes, RTL and zero-width characters);
- pydicom's real 2D pictures: a radiograph (CR, MONOCHROME1), a colour ultrasound, a colour
  secondary capture, one MR slice;
- pagegen's grey and colour ultrasound cines and diffusion 4D series.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # ctgen, mfgen, fourdgen
sys.path.insert(0, str(HERE.parent / "library"))  # library_dicomgen

# text the page must show as text: an element with an event handler, the end of a script,
# both quotes, a right-to-left override and a zero-width joiner / space. "=" and "^" are a
# person name's separators, so the name keeps to the rest.
HOSTILE = '<img src=x onerror="window.pwned=1">\'\u202e\u200d\u200b</script><b>x</b>'
HOSTILE_NAME = "</script><b>Eve</b>^'\"\u202e\u200b<i>"
HOSTILE_REPORT = "<script>window.pwned=4</script> nodule <img src=x onerror=window.pwned=5>"
CT_DESCRIPTION = "CT " + HOSTILE
# the 2D pictures (pydicom's files) by the text the series card shows
PICTURES = {
    "CR": "RG1_UNCR.dcm",
    "US": "US1_UNCR.dcm",
    "OT": "SC_rgb.dcm",
    "MR": "MR-SIEMENS-DICOM-WithOverlays.dcm",
}


def _hostile_ct(paths: list[Path], describe: bool = True) -> None:
    """The hostile patient name, study description and institution on the files, and
    (``describe``) the hostile series description on their images."""
    import pydicom

    for p in paths:
        ds = pydicom.dcmread(p)
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientName = HOSTILE_NAME
        ds.StudyDescription = "study " + HOSTILE
        ds.InstitutionName = "clinic " + HOSTILE
        if describe and ds.Modality == "CT":
            ds.SeriesDescription = CT_DESCRIPTION
        ds.save_as(p, enforce_file_format=True)


def make_sweep_library(root: Path, pictures: dict[str, Path]) -> Path:
    """Write the sources under ``root/src``, import them into ``root/library``; the library."""
    import pydicom
    from browser_support import write_ct
    from library_dicomgen import encapsulated_pdf
    from mfgen import enhanced_from_single
    from pagegen import write_cine, write_dwi
    from pydicom.uid import generate_uid
    from serve_process import write_report_sr

    src = root / "src"
    ct = write_ct(src / "ct")
    first = pydicom.dcmread(ct[0], stop_before_pixels=True)
    study = first.StudyInstanceUID
    # the reports of the study, for its patient (named below, with the images)
    encapsulated_pdf(src / "report.dcm", study, patient=(str(first.PatientName), first.PatientID))
    write_report_sr(src / "sr.dcm", ct[0], HOSTILE_REPORT)
    _hostile_ct([*ct, src / "report.dcm", src / "sr.dcm"])
    # the same anatomy as one enhanced multi-frame file
    mf = write_ct(src / "mf-single", series_number=3, description="enhanced CT", study_uid=study)
    (src / "mf").mkdir()
    enhanced_from_single(mf, src / "mf" / "enhanced.dcm")
    _hostile_ct([src / "mf" / "enhanced.dcm"], describe=False)
    for p in mf:
        p.unlink()
    # a slice missing: the series is resampled, with a warning
    gap = write_ct(
        src / "gap", series_number=4, description="CT with a gap", study_uid=study, seed=5
    )
    gap[len(gap) // 2].unlink()
    _hostile_ct([p for p in gap if p.exists()], describe=False)
    for name, path in pictures.items():
        (src / "pictures").mkdir(exist_ok=True)
        (src / "pictures" / f"{name}.dcm").write_bytes(path.read_bytes())
    us = generate_uid()
    (src / "us").mkdir()
    write_cine(src / "us" / "grey.dcm", us, colour=False, frames=6, number=1)
    write_cine(src / "us" / "colour.dcm", us, colour=True, frames=4, number=2)
    write_dwi(src / "dwi")
    library = root / "library"
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run(
        [str(exe), "import", str(src), "--library", str(library)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr + r.stdout
    return library


def serve_sweep_library(pydicom_files: dict[str, Path], root: Path) -> Iterator[Any]:
    """``ownscan serve`` on :func:`make_sweep_library` under ``root`` (a module fixture's
    body: ``yield from``); stopped with Ctrl-C, exit status 0. Its ``pictures`` attribute maps
    :data:`PICTURES`' keys to the files."""
    from serve_process import ServeProcess

    pictures = {k: pydicom_files[v] for k, v in PICTURES.items()}
    s = ServeProcess.start(make_sweep_library(root, pictures))
    s.pictures = pictures  # type: ignore[attr-defined]
    yield s
    assert s.stop() == 0, s.log
