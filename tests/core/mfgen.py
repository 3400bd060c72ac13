"""Build an enhanced multi-frame CT (per-frame functional groups) from single-frame files."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import generate_uid

__all__ = ["enhanced_from_single"]

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def _item(**kw: object) -> Dataset:
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def enhanced_from_single(files: Sequence[Path], out: Path, *, shuffle: bool = False) -> None:
    """Write one Enhanced CT Image Storage file holding the frames of ``files``.

    Position, orientation, pixel measures and rescale are in the functional groups (position
    and rescale per frame, orientation and pixel spacing shared), as scanners write them.
    ``shuffle`` stores the frames out of spatial order.
    """
    dss = [dcmread(f) for f in files]
    if shuffle:
        random.Random(7).shuffle(dss)
    first = dss[0]
    ds = Dataset()
    ds.file_meta = first.file_meta.copy()
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "StudyDescription",
        "SeriesNumber",
        "SeriesDescription",
        "Manufacturer",
        "FrameOfReferenceUID",
        "Modality",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
    ):
        setattr(ds, kw, getattr(first, kw))
    ds.SOPClassUID = ENHANCED_CT
    ds.SOPInstanceUID = sop
    ds.SeriesInstanceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = len(dss)
    ds.SharedFunctionalGroupsSequence = DSequence(
        [
            _item(
                PlaneOrientationSequence=DSequence(
                    [_item(ImageOrientationPatient=first.ImageOrientationPatient)]
                ),
                PixelMeasuresSequence=DSequence(
                    [_item(PixelSpacing=first.PixelSpacing, SliceThickness=first.SliceThickness)]
                ),
                FrameVOILUTSequence=DSequence(
                    [_item(WindowCenter=first.WindowCenter, WindowWidth=first.WindowWidth)]
                ),
            )
        ]
    )
    ds.PerFrameFunctionalGroupsSequence = DSequence(
        [
            _item(
                PlanePositionSequence=DSequence(
                    [_item(ImagePositionPatient=d.ImagePositionPatient)]
                ),
                PixelValueTransformationSequence=DSequence(
                    [
                        _item(
                            RescaleIntercept=d.RescaleIntercept,
                            RescaleSlope=d.RescaleSlope,
                            RescaleType="HU",
                        )
                    ]
                ),
                FrameContentSequence=DSequence([_item(InStackPositionNumber=k + 1)]),
            )
            for k, d in enumerate(dss)
        ]
    )
    ds.PixelData = b"".join(d.PixelData for d in dss)
    ds.save_as(out, enforce_file_format=True)
