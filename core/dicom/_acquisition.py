"""The acquisition parameters of a series, under the names of dcm2niix's BIDS sidecar.

dcm2niix's ``-b y`` JSON is what researchers' pipelines read beside a NIfTI (SliceTiming for
slice-timing correction, PhaseEncodingDirection and the bandwidths for distortion correction,
TR, TE, flip angle...). :func:`header_fields` reads them from one header (the first image of a
volume, as dcm2niix does) with dcm2niix's names and units (seconds, not DICOM's
milliseconds); Siemens' CSA image header, read with nibabel's ``csareader``, adds the phase
encoding polarity and the phase bandwidth. Fields the header does not hold are left out, never
guessed. What only the whole series knows (slice timing, the echo of a stack) is added by
the caller (``Series.acquisition``).

Direction labels (``PhaseEncodingDirection``, ``PhaseEncodingAxis``) refer to the voxel axes
of ownscan's NIfTI: ``i`` along the DICOM rows (the row direction cosine), ``j`` down the
DICOM columns (the column direction cosine), as ``Volume.affine`` has them. dcm2niix writes
its rows flipped (its ``j`` runs up the image), so the same acquisition is ``j`` here where it
is ``j-`` in dcm2niix's sidecar: both name the same direction in the patient.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ownscan.core.dicom._pydicom import damaged, quiet_pydicom, read_dataset

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ownscan.core.dicom._frames import Source

__all__ = ["acquisition_fields", "header_fields", "manufacturer_name"]

# Manufacturer (0008,0070) as dcm2niix writes it (it names vendors, not their companies)
_VENDORS = (
    ("SIEMENS", "Siemens"),
    ("GE ", "GE"),
    ("GE_", "GE"),
    ("GEMS", "GE"),
    ("PHILIPS", "Philips"),
    ("UIH", "UIH"),
    ("UNITED IMAGING", "UIH"),
    ("TOSHIBA", "Toshiba"),
    ("CANON", "Canon"),
    ("HITACHI", "Hitachi"),
    ("BRUKER", "Bruker"),
    ("MEDISO", "Mediso"),
)


def manufacturer_name(text: str) -> str:
    """The vendor's name as dcm2niix writes it (``"SIEMENS"`` -> ``"Siemens"``,
    ``"GE MEDICAL SYSTEMS"`` -> ``"GE"``); other text as it is."""
    up = text.strip().upper() + " "
    if up.strip() == "GE":
        return "GE"
    for key, name in _VENDORS:
        if up.startswith(key) or key.strip() in up.split():
            return name
    return text.strip()


def _number(v: Any) -> float | None:
    try:
        if v is None or (isinstance(v, str | bytes) and not str(v).strip()):
            return None
        x = float(v[0] if isinstance(v, Sequence) and not isinstance(v, str | bytes) else v)
    except (TypeError, ValueError, IndexError):
        return None
    return x if math.isfinite(x) else None


def _clean(x: float) -> float | int:
    """A number for the sidecar: integers without a fraction, others to 9 significant digits
    (what a DS holds, less the noise of the ms -> s division). Not 6 decimal places: a small
    value such as Siemens' SAR 0.00262783826098 became 0.002628, which dcm2niix (``%g``, 6
    significant digits) writes as 0.00262784 (nibabel's ``decimal_rescale.dcm``)."""
    r = float(f"{x:.9g}")
    return int(r) if r == int(r) and abs(r) < 1e15 else r


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Sequence) and not isinstance(v, str | bytes):
        return "\\".join(str(x).strip() for x in v)
    return str(v).strip()


def _find(ds: Dataset, kw: str) -> Any:
    """``kw`` of one header: in an enhanced file first from its public functional groups
    (the shared groups, then the first frame's, one sequence deep), where PS3.3 puts the
    acquisition attributes of enhanced images, then from the top level, then from a private
    sequence of the groups (Philips' per-frame (2005,140F) holds what no public group does).

    The public groups come before the top level: Philips also writes rounded legacy copies
    at the top level (nibabel's ``philips_mprage.dcm``: PixelBandwidth 193 there, 192.559 in
    the MR Imaging Modifier group, which dcm2niix reports)."""
    private: list[Any] = []
    for seq in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(seq) if seq in ds else None
        if not items:
            continue
        for group in items[0]:
            if group.VR != "SQ" or not group.value:
                continue
            item = group.value[0]
            if group.tag.is_private:
                private.append(item)
            elif kw in item:
                return item.get(kw)
    if kw in ds:
        return ds.get(kw)
    for item in private:
        if kw in item:
            return item.get(kw)
    return None


# (BIDS name, DICOM keyword, how: "text", "list" (ImageType), "num", "ms" (ms -> s))
_PLAIN: tuple[tuple[str, str, str], ...] = (
    ("Modality", "Modality", "text"),
    ("MagneticFieldStrength", "MagneticFieldStrength", "num"),
    ("ImagingFrequency", "ImagingFrequency", "num"),
    ("ManufacturersModelName", "ManufacturerModelName", "text"),
    ("SoftwareVersions", "SoftwareVersions", "text"),
    ("PatientPosition", "PatientPosition", "text"),
    ("MRAcquisitionType", "MRAcquisitionType", "text"),
    ("SeriesDescription", "SeriesDescription", "text"),
    ("ProtocolName", "ProtocolName", "text"),
    ("ScanningSequence", "ScanningSequence", "text"),
    ("SequenceVariant", "SequenceVariant", "text"),
    ("ScanOptions", "ScanOptions", "text"),
    ("SequenceName", "SequenceName", "text"),
    ("ImageType", "ImageType", "list"),
    ("SeriesNumber", "SeriesNumber", "num"),
    ("AcquisitionNumber", "AcquisitionNumber", "num"),
    ("SliceThickness", "SliceThickness", "num"),
    ("SpacingBetweenSlices", "SpacingBetweenSlices", "num"),
    ("SAR", "SAR", "num"),
    ("EchoNumber", "EchoNumbers", "num"),
    ("EchoTime", "EchoTime", "ms"),
    ("RepetitionTime", "RepetitionTime", "ms"),
    ("InversionTime", "InversionTime", "ms"),
    ("FlipAngle", "FlipAngle", "num"),
    ("EchoTrainLength", "EchoTrainLength", "num"),
    ("PercentPhaseFOV", "PercentPhaseFieldOfView", "num"),
    ("PercentSampling", "PercentSampling", "num"),
    ("PhaseEncodingSteps", "NumberOfPhaseEncodingSteps", "num"),
    ("PixelBandwidth", "PixelBandwidth", "num"),
    ("BodyPartExamined", "BodyPartExamined", "text"),
    ("ConvolutionKernel", "ConvolutionKernel", "text"),
    ("KVP", "KVP", "num"),
    ("XRayTubeCurrent", "XRayTubeCurrent", "num"),
    ("ExposureTime", "ExposureTime", "ms"),
    ("XRayExposure", "Exposure", "num"),
)


# written, as dcm2niix writes them, only when above 1 (a second echo, an echo train)
_ONLY_ABOVE_ONE = frozenset({"EchoNumber", "EchoTrainLength"})
# written, as dcm2niix writes it, only when above 0: an inversion time of 0 is no inversion
# (Philips writes 0 in its private per-frame item of a TFE whose MR Modifier says
# InversionRecovery NO: nibabel's philips_mprage.dcm)
_ONLY_ABOVE_ZERO = frozenset({"InversionTime"})


def _clock(tm: str) -> str:
    """DICOM TM ``HHMMSS.ffffff`` as dcm2niix writes AcquisitionTime (``HH:MM:SS.ffffff``),
    or "" when it is not of that form."""
    whole, _, frac = tm.replace(":", "").partition(".")
    if len(whole) != 6 or not whole.isdigit() or (frac and not frac.isdigit()):
        return ""
    return f"{whole[:2]}:{whole[2:4]}:{whole[4:]}.{frac.ljust(6, '0')[:6]}"


def header_fields(ds: Dataset) -> dict[str, Any]:
    """The acquisition fields of one header, named, ordered and in the units of dcm2niix's
    BIDS sidecar (times in seconds). Only fields the header holds."""
    out: dict[str, Any] = {}
    maker = _text(_find(ds, "Manufacturer"))
    for name, kw, how in _PLAIN:
        v = _find(ds, kw)
        if name == "EchoTime" and v is None:  # enhanced MR: the MR Echo functional group
            v = _find(ds, "EffectiveEchoTime")
        if how == "text":
            t = _text(v)
            if t:
                out[name] = t
        elif how == "list":
            t = _text(v)
            if t:
                out[name] = [p.strip().upper() for p in t.split("\\")]
        else:
            x = _number(v)
            if x is not None and not (
                (name in _ONLY_ABOVE_ONE and x <= 1) or (name in _ONLY_ABOVE_ZERO and x <= 0)
            ):
                out[name] = _clean(x / 1000.0 if how == "ms" else x)
        if name == "SeriesNumber":
            when = _clock(_text(_find(ds, "AcquisitionTime")))
            if not when:  # enhanced images: the time of AcquisitionDateTime, as dcm2niix
                dt = _text(_find(ds, "AcquisitionDateTime"))
                when = _clock(dt[8:].split("+")[0].split("-")[0]) if len(dt) >= 14 else ""
            if when:
                out["AcquisitionTime"] = when
    if maker:
        out["Manufacturer"] = manufacturer_name(maker)
    if "ProtocolName" not in out and "SeriesDescription" in out:
        out["ProtocolName"] = out["SeriesDescription"]  # as dcm2niix fills it
    out.update(_phase_encoding(ds, maker))
    return out


def _phase_encoding(ds: Dataset, maker: str) -> dict[str, Any]:
    """AcquisitionMatrixPE, ReconMatrixPE, the phase encoding axis (``i``/``j``) and, where
    Siemens' CSA header gives its polarity, direction (``j``, ``j-``), and the CSA's
    BandwidthPerPixelPhaseEncode."""
    out: dict[str, Any] = {}
    rc = _text(_find(ds, "InPlanePhaseEncodingDirection")).upper()
    if rc not in ("ROW", "COL", "COLUMN"):
        return out
    matrix = _find(ds, "AcquisitionMatrix")
    try:
        pe = [int(x) for x in matrix][2:4] if matrix is not None else []
    except (TypeError, ValueError):
        pe = []
    if len(pe) == 2 and max(pe) > 0:
        out["AcquisitionMatrixPE"] = max(pe)
    from ownscan.core.dicom._frames import _uih_count

    rows, cols = _number(ds.get("Rows")), _number(ds.get("Columns"))
    csa = _siemens_csa(ds) if manufacturer_name(maker) == "Siemens" else {}
    n_mosaic = _number(csa.get("NumberOfImagesInMosaic"))
    n_grid = _uih_count(ds)
    if rows and cols:
        if n_mosaic and n_mosaic > 1:  # the size of one tile of the mosaic
            side = math.ceil(math.sqrt(n_mosaic))
            rows, cols = rows // side, cols // side
        elif n_grid:  # a UIH grid: ceil(sqrt(n)) tiles to a row, as many rows as needed
            side = math.ceil(math.sqrt(n_grid))
            rows, cols = rows // math.ceil(n_grid / side), cols // side
        out["ReconMatrixPE"] = int(rows if rc != "ROW" else cols)
    bw = _number(csa.get("BandwidthPerPixelPhaseEncode"))
    if bw is not None:
        out["BandwidthPerPixelPhaseEncode"] = _clean(bw)
    axis = "i" if rc == "ROW" else "j"
    positive = _number(csa.get("PhaseEncodingDirectionPositive"))
    if positive in (0.0, 1.0):
        # positive: along the row (i) or column (j) direction cosine, the order the image
        # rows and columns are stored in, which is ownscan's voxel order
        out["PhaseEncodingDirection"] = axis if positive == 1.0 else axis + "-"
    else:
        out["PhaseEncodingAxis"] = axis
    out["InPlanePhaseEncodingDirectionDICOM"] = "ROW" if rc == "ROW" else "COL"
    return out


def _siemens_csa(ds: Dataset) -> dict[str, Any]:
    """The CSA image header's tags (name -> first item), or {} when absent or unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader

    try:
        csa = csareader.get_csa_header(ds, "image")
    except Exception:  # a damaged CSA header: the standard fields are still written
        return {}
    if not csa:
        return {}
    out: dict[str, Any] = {}
    for name, tag in csa.get("tags", {}).items():
        items = tag.get("items") or []
        if items:
            out[name] = items[0]
    return out


def acquisition_fields(source: Source) -> dict[str, Any]:
    """:func:`header_fields` of the header at ``source`` (read with pydicom), or {} when it
    can no longer be read (the sidecar then holds what the frame records know)."""
    try:
        if source.dataset is not None:
            return header_fields(source.dataset)
        with quiet_pydicom(), source.open() as fp:
            ds = read_dataset(fp)[0]
            return header_fields(ds)
    except damaged():
        return {}
