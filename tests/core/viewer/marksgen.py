"""A presentation state with one circle, written with pydicom (for images highdicom would
refuse as sources: the real head MR, a radiograph without position)."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"


def circle_gsps(
    image: Dataset,
    path: Path,
    centre: tuple[float, float],
    radius: float,
    area: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> None:
    """A presentation state with a circle on one image (pixel units), written with pydicom;
    ``area``: a displayed area (top left, bottom right pixel, 1-based), SCALE TO FIT."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = GSPS, generate_uid()
    for kw in ("PatientName", "PatientID", "StudyInstanceUID"):
        setattr(ds, kw, image.get(kw, ""))
    ds.SeriesInstanceUID, ds.Modality, ds.ContentLabel = generate_uid(), "PR", "CIRCLE"
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = [ref]
    ds.ReferencedSeriesSequence = [series]
    circle = Dataset()
    circle.GraphicAnnotationUnits, circle.GraphicDimensions = "PIXEL", 2
    circle.NumberOfGraphicPoints, circle.GraphicType, circle.GraphicFilled = 2, "CIRCLE", "N"
    circle.GraphicData = [centre[0], centre[1], centre[0] + radius, centre[1]]
    ann = Dataset()
    ann.GraphicLayer = "MARKS"
    ann.GraphicObjectSequence = [circle]
    ds.GraphicAnnotationSequence = [ann]
    if area is not None:
        shown = Dataset()
        shown.DisplayedAreaTopLeftHandCorner = list(area[0])
        shown.DisplayedAreaBottomRightHandCorner = list(area[1])
        shown.PresentationSizeMode = "SCALE TO FIT"
        shown.PresentationPixelAspectRatio = [1, 1]
        ds.DisplayedAreaSelectionSequence = [shown]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = GSPS, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
