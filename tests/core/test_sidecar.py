"""The NIfTI JSON sidecar (``ownscan export --format nifti --json``) against dcm2niix's BIDS
sidecar (``dcm2niix -b y``) on the same input, field by field: generated Siemens, UIH, GE and
Philips series, and nibabel's real Siemens DWI mosaics."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fourdgen import attrs, write_4d_series
from niicompare import ownscan_export

# Fields compared value by value wherever dcm2niix writes them: ownscan must write each of
# these that dcm2niix writes, with the same value (numbers within 1e-5 relative).
FIELDS = (
    "Modality", "MagneticFieldStrength", "ImagingFrequency", "Manufacturer",
    "ManufacturersModelName", "SoftwareVersions", "PatientPosition", "MRAcquisitionType",
    "SeriesDescription", "ProtocolName", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "SequenceName", "ImageType", "SeriesNumber", "AcquisitionTime", "AcquisitionNumber",
    "SliceThickness", "SpacingBetweenSlices", "SAR", "EchoNumber", "EchoTime",
    "RepetitionTime", "InversionTime", "FlipAngle", "EchoTrainLength", "PercentPhaseFOV",
    "PercentSampling", "PhaseEncodingSteps", "AcquisitionMatrixPE", "ReconMatrixPE",
    "PixelBandwidth", "BandwidthPerPixelPhaseEncode", "PhaseEncodingAxis",
    "InPlanePhaseEncodingDirectionDICOM", "PhilipsRescaleSlope", "PhilipsRescaleIntercept",
    "PhilipsScaleSlope", "UsePhilipsFloatNotDisplayScaling", "ConvolutionKernel",
    "XRayTubeCurrent", "ExposureTime", "XRayExposure",
)  # fmt: skip


EXTRA = ("AcquisitionMatrixPE", "AcquisitionTime", "SliceThickness", "Manufacturer")


def _dcm2niix_json(indir: Path, outdir: Path, *flags: str) -> list[Path]:
    outdir.mkdir(parents=True)
    r = subprocess.run(
        ["dcm2niix", "-b", "y", "-z", "n", "-f", "%s_%d", *flags, "-o", str(outdir), str(indir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return sorted(outdir.glob("*.nii"))


def _ours(indir: Path, outdir: Path, *flags: str) -> list[Path]:
    nii = ownscan_export(indir, outdir, "--json", *flags)
    assert all(p.with_suffix(".json").exists() for p in nii)
    return nii


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)
    return a == b


def _pe_world(nii: Path, label: str) -> np.ndarray:
    """A phase-encoding label (``j-``) of ``nii`` as a unit vector in RAS."""
    a = nib.load(nii).affine[:3, :3]
    axis = "ijk".index(label[0])
    v = a[:, axis] / np.linalg.norm(a[:, axis])
    return -v if label.endswith("-") else v


def compare_sidecars(ours: Path, theirs: Path) -> dict:
    """Assert every field of :data:`FIELDS` dcm2niix writes is ours too, with its value; the
    phase encoding direction the same in the patient; slice timing the same per slice
    position (the two may store the slices in opposite orders). Returns our sidecar."""
    a = json.loads(ours.with_suffix(".json").read_text())
    b = json.loads(theirs.with_suffix(".json").read_text())
    for key in FIELDS:
        if key in b:
            assert key in a, f"{key} missing (dcm2niix: {b[key]!r})"
            assert _same(a[key], b[key]), f"{key}: ours {a[key]!r}, dcm2niix {b[key]!r}"
        elif key in a:  # written where dcm2niix writes nothing: only these, explained
            # the phase steps of AcquisitionMatrix (dcm2niix uses the CSA's for Siemens), the
            # first image's time (dcm2niix drops it for time series), SliceThickness (dcm2niix
            # writes it for MR only), a Manufacturer dcm2niix does not know (it writes only
            # the vendors it knows)
            assert key in EXTRA, f"{key}: ours {a[key]!r}, dcm2niix none"
    assert ("PhaseEncodingDirection" in a) == ("PhaseEncodingDirection" in b)
    if "PhaseEncodingDirection" in b:
        np.testing.assert_allclose(
            _pe_world(ours, a["PhaseEncodingDirection"]),
            _pe_world(theirs, b["PhaseEncodingDirection"]),
            atol=1e-4,
        )
    assert ("SliceTiming" in a) == ("SliceTiming" in b), (a.get("SliceTiming"), b)
    if "SliceTiming" in b:
        k_ours, k_theirs = nib.load(ours).affine[:3, 2], nib.load(theirs).affine[:3, 2]
        t = a["SliceTiming"] if k_ours @ k_theirs > 0 else a["SliceTiming"][::-1]
        # dcm2niix holds seconds after midnight in single precision: 4 ms steps
        np.testing.assert_allclose(t, b["SliceTiming"], atol=0.005)
    np.testing.assert_allclose(a["ImageOrientationPatientDICOM"],
                               b["ImageOrientationPatientDICOM"], atol=1e-5)  # fmt: skip
    assert a["ConversionSoftware"] == "ownscan"
    return a


def _mr(**extra: object):
    """Acquisition fields of an EPI time series, as scanners write them."""
    base = dict(
        TemporalPositionIdentifier=lambda v: v + 1,
        MagneticFieldStrength=3,
        ImagingFrequency=123.25,
        ManufacturerModelName="Prisma",
        SoftwareVersions="syngo MR E11",
        MRAcquisitionType="2D",
        ProtocolName="bold_run1",
        ScanningSequence="EP",
        SequenceVariant=["SK", "SS"],
        ScanOptions="FS",
        SequenceName="epfid2d1_64",
        FlipAngle=77,
        SAR=0.12,
        PercentPhaseFieldOfView=100,
        PercentSampling=100,
        NumberOfPhaseEncodingSteps=10,
        AcquisitionMatrix=[0, 12, 10, 0],
        PixelBandwidth=2232,
        InPlanePhaseEncodingDirection="ROW",
        EchoTrainLength=10,
        SpacingBetweenSlices=3.0,
    )
    base.update(extra)
    return attrs(**base)


@pytest.mark.parametrize(
    "maker", ["SIEMENS", "UIH", "GE MEDICAL SYSTEMS", "Philips Medical Systems"]
)
@pytest.mark.parametrize("pe", ["ROW", "COL"])
def test_sidecar_fields_match_dcm2niix(maker: str, pe: str, tmp_path: Path) -> None:
    write_4d_series(tmp_path / "in", n_vols=3, manufacturer=maker,
                    per_volume=_mr(InPlanePhaseEncodingDirection=pe))  # fmt: skip
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours")
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    assert got["RepetitionTime"] == 2 and got["EchoTime"] == 0.03 and got["FlipAngle"] == 77
    assert got["PhaseEncodingAxis"] == ("i" if pe == "ROW" else "j")
    # slice times from the slices' AcquisitionTime (0.4 s apart) for Siemens and UIH only,
    # as dcm2niix (GE's are in a private protocol block, Philips' are the volume's)
    if maker in ("SIEMENS", "UIH"):
        assert got["SliceTiming"] == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6])
    else:
        assert "SliceTiming" not in got


def test_slice_timing_only_from_times_that_differ(tmp_path: Path) -> None:
    """All slices at one time: no SliceTiming; slices spread over more than a TR (2D
    concatenations): their times, as dcm2niix writes them."""

    def spread(ds, v: int, z: int) -> None:  # slices 0.3 s apart, TR 0.5 s
        _mr()(ds, v, z)
        ds.AcquisitionTime = f"1000{z * 0.3:09.6f}"

    for name, per in (("same", _mr(AcquisitionTime="100000")), ("spread", spread)):
        # (one volume: dcm2niix takes a time series' TR from its volumes' times)
        write_4d_series(tmp_path / name, n_vols=1, tr_ms=500.0, per_volume=per)
        (ours,) = _ours(tmp_path / name, tmp_path / f"o{name}")
        (theirs,) = _dcm2niix_json(tmp_path / name, tmp_path / f"t{name}")
        got = compare_sidecars(ours, theirs)
        if name == "same":
            assert "SliceTiming" not in got
        else:
            assert got["SliceTiming"] == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.2])


def test_siemens_mosaic_sidecar_matches_dcm2niix(tmp_path: Path) -> None:
    """nibabel's real Siemens DWI mosaics: the CSA header's slice times, phase encoding
    polarity and phase bandwidth, and the standard fields, as dcm2niix writes them."""
    data = Path(nib.__file__).parent / "nicom" / "tests" / "data"
    (tmp_path / "in").mkdir()
    for name in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz"):
        (tmp_path / "in" / name[:-3]).write_bytes(gzip.decompress((data / name).read_bytes()))
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours")
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    assert got["PhaseEncodingDirection"] == "j"  # dcm2niix's "j-": its rows run upwards
    assert got["BandwidthPerPixelPhaseEncode"] == 19.055 and got["ReconMatrixPE"] == 128
    assert len(got["SliceTiming"]) == 48 and got["EchoTime"] == 0.093


@pytest.mark.parametrize("fp", [False, True], ids=["display", "philips_float"])
@pytest.mark.parametrize("n_vols", [1, 2], ids=["3d", "4d"])
def test_philips_sidecar_says_which_scaling(fp: bool, n_vols: int, tmp_path: Path) -> None:
    def philips(ds, v: int, z: int) -> None:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 2.5, 10.0, "normalized"
        ds.TemporalPositionIdentifier = v + 1
        block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
        block.add_new(0x0D, "FL", -3.0)
        block.add_new(0x0E, "FL", 0.04)

    write_4d_series(tmp_path / "in", n_vols=n_vols, manufacturer="Philips", per_volume=philips)
    flag = ["--philips-float"] if fp else []
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours", *flag)
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs", "-p", "y" if fp else "n")
    got = compare_sidecars(ours, theirs)
    assert got["UsePhilipsFloatNotDisplayScaling"] == (1 if fp else 0)
    assert got["PhilipsScaleSlope"] == pytest.approx(0.04)


def test_ct_sidecar_matches_dcm2niix(tmp_path: Path) -> None:
    from ctgen import write_ct_series
    from pydicom import dcmread

    for f in write_ct_series(tmp_path / "in", n_slices=4, rows=16, cols=16):
        ds = dcmread(f)
        ds.Manufacturer, ds.KVP, ds.XRayTubeCurrent, ds.ExposureTime = "SIEMENS", 120, 200, 500
        ds.Exposure, ds.ConvolutionKernel = 100, "B30f"
        ds.save_as(f)
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours")
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    assert got["ExposureTime"] == 0.5 and got["XRayExposure"] == 100 and got["KVP"] == 120


def test_enhanced_sidecar_matches_dcm2niix(tmp_path: Path) -> None:
    """An enhanced MR file: TR from the MR Timing functional group, the rest from the top
    level, as dcm2niix reads them."""
    from mfgen import enhanced_mr_4d

    enhanced_mr_4d(tmp_path / "in" / "e.dcm", n_vols=3)
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours")
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    assert got["RepetitionTime"] == 2 and got["Manufacturer"] == "Philips"


def test_real_head_mr_sidecar_matches_dcm2niix(mr_head_dir: Path, tmp_path: Path) -> None:
    """The real oblique head MR (384 files): every field dcm2niix writes, as it writes it."""
    (ours,) = _ours(mr_head_dir, tmp_path / "ours")
    (theirs,) = _dcm2niix_json(mr_head_dir, tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    b = json.loads(theirs.with_suffix(".json").read_text())
    shared = [k for k in FIELDS if k in b]
    assert len(shared) >= 10, shared  # (the published files keep few acquisition fields)
    assert got["Manufacturer"] == "BIOLAB" and "Manufacturer" not in b


def test_multi_echo_sidecars_match_dcm2niix(tmp_path: Path) -> None:
    """Each echo's file has its own EchoTime and EchoNumber, as dcm2niix's ``_e2``."""
    from pydicom.uid import generate_uid

    uid = generate_uid()
    for e in (1, 2, 3):
        write_4d_series(tmp_path / "in", n_vols=2, series_uid=uid, prefix=f"e{e}",
                        per_volume=_mr(EchoNumbers=e, EchoTime=12.5 * e))  # fmt: skip
    ours = _ours(tmp_path / "in", tmp_path / "ours")
    theirs = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 3
    by_te = {json.loads(p.with_suffix(".json").read_text())["EchoTime"]: p for p in theirs}
    for nii in ours:
        got = json.loads(nii.with_suffix(".json").read_text())
        compare_sidecars(nii, by_te[got["EchoTime"]])
    echoes = sorted(json.loads(p.with_suffix(".json").read_text())["EchoTime"] for p in ours)
    assert echoes == [0.0125, 0.025, 0.0375]


def test_uih_grid_sidecar_matches_dcm2niix(tmp_path: Path) -> None:
    """A UIH grid: the matrix of one slice, not of the grid; the slice times from the
    private MRVFrameSequence's AcquisitionTime."""
    from test_uih_grid import write_uih_grid

    order = [0, 3, 1, 4, 2, 5]  # interleaved, 0.3 s apart

    def pe(ds, v: int) -> None:
        ds.InPlanePhaseEncodingDirection, ds.AcquisitionMatrix = "COL", [0, 10, 8, 0]
        for k, item in enumerate(ds[0x0065, 0x1051].value):  # each slice's time
            item.AcquisitionTime = f"1010{10 + 2 * v + 0.3 * order[k]:09.6f}"

    write_uih_grid(tmp_path / "in", n=6, per_volume=pe)
    (ours,) = _ours(tmp_path / "in", tmp_path / "ours")
    (theirs,) = _dcm2niix_json(tmp_path / "in", tmp_path / "theirs")
    got = compare_sidecars(ours, theirs)
    assert got["ReconMatrixPE"] == 8 and got["Manufacturer"] == "UIH"
    assert got["SliceTiming"] == pytest.approx([0.3 * k for k in order])
