"""A library for the page's history, marks, 4D and escaping tests (``test_browser_history.py``,
``test_serve_history.py``), made by ``ownscan import`` from generated files:

- Jane Doe at St Anne (patient ID P1): a CT of 4 images (64 x 64) with a TID 1500 measurement
  report (a nodule outlined on image 2, 12.5 mm), a Key Object Selection (images 1 and 3), a
  presentation state (lung window, a polyline, a circle, a text box and an arrow on image 2),
  all written by highdicom, and a free-text report (pydicom) whose words the glossary knows;
- the same Jane Doe at City Hospital (patient ID H2-77, her name written ``DOE^JANE``): a
  diffusion series of 5 volumes (b 0, then 1000 along 4 directions) a year later;
- a patient whose name and series description are hostile (HTML and control characters)
  with a grey multi-frame ultrasound of 6 frames (a cine) and a colour one of 4 frames.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # fourdgen
sys.path.insert(0, str(HERE.parent / "reports"))  # reportgen
sys.path.insert(0, str(HERE.parent / "library"))  # library_dicomgen

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
# what the page must show as text: markup, an event handler, ESC, BEL, CR/LF, a bidi override
# ("=" separates a person name's groups, so the name's markup has none)
HOSTILE_NAME = "<script>window.pwned++</script>^<b>Eve</b>"
HOSTILE_DESCRIPTION = 'cine \x1b[31m\x07\r\n\u202e<img src=x onerror="window.pwned=2">'
FINDINGS = "A hypodense nodule in the left lower lobe, 23.5 mm."
IMPRESSION = "Otherwise unremarkable."


def _patient(ds: Dataset, name: str, pid: str, institution: str) -> None:
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate, ds.PatientSex = "19700101", "F"
    ds.InstitutionName = institution


def write_marked_ct(folder: Path) -> list[Any]:
    """The CT and its documents (see the module docstring); returns the images' datasets."""
    import pydicom
    from library_dicomgen import ct_series
    from reportgen import (
        key_objects,
        measurement_report,
        presentation_state,
        text_report,
    )

    study = generate_uid()
    images = []
    for path in ct_series(folder / "ct", 4, study=study, patient=("Doe^Jane", "P1"), size=64):
        ds = pydicom.dcmread(path)
        ds.Manufacturer = "ownscan tests"
        ds.ReferringPhysicianName = "Who^Sent"
        ds.FrameOfReferenceUID = generate_uid()
        ds.StudyID = "1"
        ds.InstitutionName = "St Anne"
        ds.BodyPartExamined = "CHEST"
        ds.StudyDate = "20230310"
        ds.save_as(path, enforce_file_format=True)
        images.append(pydicom.dcmread(path))
    frame_uid = images[0].FrameOfReferenceUID
    for ds in images:  # one frame of reference for the series
        ds.FrameOfReferenceUID = frame_uid
        ds.save_as(ds.filename, enforce_file_format=True)
    docs = folder / "docs"
    docs.mkdir()
    measurement_report(images, docs / "sr.dcm")
    key_objects(images, docs / "ko.dcm")
    _zoomed_with_display_point(presentation_state(images, docs / "pr.dcm"), docs / "pr.dcm")
    text_report(images, docs / "report.dcm", findings=FINDINGS, impression=IMPRESSION)
    return images


DISPLAY_POINT = (0.25, 0.75)  # a point in DISPLAY units: fractions of the displayed area
DISPLAYED_AREA = ((17, 17), (48, 48))  # 1-based pixel numbers: the middle half of 64 x 64


def _zoomed_with_display_point(pr: Any, path: Path) -> None:
    """The presentation state zoomed to the middle of the image, with a point given in
    DISPLAY units (so it lies at pixel 16 + 0.25 * 32 = 24, 16 + 0.75 * 32 = 40, not where
    fractions of the whole image would put it)."""
    from pydicom.dataset import Dataset as Ds

    area = pr.DisplayedAreaSelectionSequence[0]
    area.DisplayedAreaTopLeftHandCorner = list(DISPLAYED_AREA[0])
    area.DisplayedAreaBottomRightHandCorner = list(DISPLAYED_AREA[1])
    point = Ds()
    point.GraphicAnnotationUnits = "DISPLAY"
    point.GraphicDimensions = 2
    point.NumberOfGraphicPoints = 1
    point.GraphicData = list(DISPLAY_POINT)
    point.GraphicType = "POINT"
    point.GraphicFilled = "N"
    pr.GraphicAnnotationSequence[0].GraphicObjectSequence.append(point)
    pr.save_as(path, enforce_file_format=True)


def write_dwi(folder: Path) -> list[Path]:
    """Jane Doe's diffusion series at City Hospital: 5 volumes of 5 slices (12 x 10)."""
    from fourdgen import diffusion_table, write_4d_series

    table = diffusion_table(5)

    def per_volume(ds: Dataset, v: int, z: int) -> None:
        b, g = table[v]
        ds.DiffusionBValue = b
        ds.DiffusionGradientOrientation = list(g)
        _patient(ds, "DOE^JANE", "H2-77", "City Hospital")
        ds.StudyDate = ds.SeriesDate = "20240402"
        ds.BodyPartExamined = "HEAD"

    return write_4d_series(folder, n_vols=5, per_volume=per_volume, description="DWI")


def cine_pixels(frames: int, rows: int, cols: int, colour: bool) -> np.ndarray:
    """A bright square that moves one step right per frame (so a frame is told by where it
    is); colour: red square on a blue ground."""
    grey = np.zeros((frames, rows, cols), np.uint8)
    for f in range(frames):
        grey[f, 8:20, 4 + 6 * f : 16 + 6 * f] = 250
    if not colour:
        return grey
    rgb = np.zeros((*grey.shape, 3), np.uint8)
    rgb[..., 0] = grey
    rgb[..., 2] = np.where(grey > 0, 0, 90)
    return rgb


def write_cine(path: Path, study: str, *, colour: bool, frames: int, number: int) -> Path:
    """A multi-frame ultrasound (no slice geometry) of the hostile patient, 10 frames/s."""
    pixels = cine_pixels(frames, 32, 48, colour)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.file_meta.MediaStorageSOPInstanceUID = sop = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = US_MULTIFRAME, sop
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.Modality = "US"
    _patient(ds, HOSTILE_NAME, "X<1>", "Clinic")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid()
    ds.StudyDate = "20220101"
    ds.StudyDescription = "<i>study</i>"
    ds.SeriesNumber, ds.InstanceNumber = number, 1
    ds.SeriesDescription = HOSTILE_DESCRIPTION + (" colour" if colour else "")
    ds.NumberOfFrames = frames
    ds.FrameTime = 100.0  # ms: 10 frames per second
    ds.Rows, ds.Columns = pixels.shape[1:3]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def make_sources(root: Path) -> Path:
    """Every file of the module docstring under ``root/src``; returns that folder."""
    src = root / "src"
    write_marked_ct(src / "stanne")
    write_dwi(src / "city" / "dwi")
    study = generate_uid()
    (src / "us").mkdir(parents=True)
    write_cine(src / "us" / "grey.dcm", study, colour=False, frames=6, number=1)
    write_cine(src / "us" / "colour.dcm", study, colour=True, frames=4, number=2)
    return src
