"""Build enhanced multi-frame files (per-frame functional groups): a CT from single-frame
files, and 4D MR of one or more stacks told apart by Dimension Index Values."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

__all__ = ["enhanced_from_single", "enhanced_mr_4d"]

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


ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
STACK_ID, IN_STACK, TEMPORAL_INDEX = 0x00209056, 0x00209057, 0x00209128


def enhanced_mr_4d(
    out: Path,
    *,
    n_vols: int = 3,
    n_slices: int = 4,
    stacks: Sequence[int] = (0,),
    temporal_attribute: bool = True,
    value: Callable[[int, int, int, int], np.ndarray] | None = None,
) -> None:
    """One Enhanced MR file of ``len(stacks)`` stacks (40 mm apart along z) of ``n_vols``
    volumes of ``n_slices`` slices, frames stored shuffled, as Philips writes them: the
    Dimension Index Sequence points at Stack ID, In-Stack Position Number and Temporal
    Position Index, and each frame's DimensionIndexValues are ``[stack, slice, volume]``
    (1-based). ``temporal_attribute=False`` leaves TemporalPositionIndex out of the Frame
    Content (only the index values say the volume). Stored value of a voxel:
    ``value(volume + 10 * stack, slice, rows, cols)`` (fourdgen's ``voxel_value``)."""
    from fourdgen import voxel_value

    value = value or voxel_value
    rows, cols = 12, 10
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = ENHANCED_MR
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Enh^Stacks", "ES", "MR"
    ds.Manufacturer = "Philips Medical Systems"
    ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = 5, "enh", 1
    ds.StudyDate, ds.StudyTime, ds.PatientPosition = "20240102", "101010", "HFS"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.NumberOfTemporalPositions = n_vols
    order = [(s, v, z) for s in stacks for v in range(n_vols) for z in range(n_slices)]
    random.Random(3).shuffle(order)
    ds.NumberOfFrames = len(order)
    ds.SharedFunctionalGroupsSequence = DSequence([_item(
        PlaneOrientationSequence=DSequence([_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelMeasuresSequence=DSequence([_item(PixelSpacing=[1.5, 1.25], SliceThickness=3.0)]),
        MRTimingAndRelatedParametersSequence=DSequence([_item(RepetitionTime=2000.0)]),
    )])  # fmt: skip
    per_frame = []
    for s, v, z in order:
        content = _item(StackID=str(s + 1), InStackPositionNumber=z + 1,
                        DimensionIndexValues=[s + 1, z + 1, v + 1])  # fmt: skip
        if temporal_attribute:
            content.TemporalPositionIndex = v + 1
        per_frame.append(_item(
            PlanePositionSequence=DSequence(
                [_item(ImagePositionPatient=[-7.0, -9.0, 20.0 + 3.0 * z + 40.0 * s])]
            ),
            FrameContentSequence=DSequence([content]),
        ))  # fmt: skip
    ds.PerFrameFunctionalGroupsSequence = DSequence(per_frame)
    org = generate_uid()
    ds.DimensionOrganizationSequence = DSequence([_item(DimensionOrganizationUID=org)])
    ds.DimensionIndexSequence = DSequence([
        _item(DimensionOrganizationUID=org, DimensionIndexPointer=p,
              FunctionalGroupPointer=0x00209111)  # Frame Content Sequence
        for p in (STACK_ID, IN_STACK, TEMPORAL_INDEX)
    ])  # fmt: skip
    ds.PixelData = b"".join(value(v + 10 * s, z, rows, cols).tobytes() for s, v, z in order)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out, enforce_file_format=True)
