"""``ownscan export --format nifti`` against dcm2niix, on real and generated series.

Every comparison reorients both files to RAS with nibabel and requires identical voxel values
and affines within 0.01 mm. The generated series are small but realistic CT (HU phantom), with
the traps the brief lists: shuffled file names, reversed Instance Numbers, an oblique
orientation, a localizer mixed in, two series in one folder, each transcoded into the
compressed transfer syntaxes by gdcmconv / dcmtk.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from ctgen import ct_phantom_slice, make_ct_dataset, write_ct_series
from niicompare import canonical, compare, dcm2niix, gdcm_transcode, ownscan_export
from pydicom.uid import generate_uid

from ownscan.core import load_volume


def _oblique_iop() -> tuple[float, ...]:
    a, b = math.radians(20.0), math.radians(15.0)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    r = rz @ rx
    return tuple(float(v) for v in (*r[:, 0], *r[:, 1]))


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of generated DICOM, one per scenario."""
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    out["axial"] = root / "axial"
    write_ct_series(out["axial"], shuffle_names=True, reverse_instances=True, seed=1)
    out["oblique"] = root / "oblique"
    write_ct_series(
        out["oblique"],
        iop=_oblique_iop(),
        signed=False,
        implicit=True,
        seed=2,
        shuffle_names=True,
        rows=40,
        cols=56,
        spacing=1.25,
    )
    # a localizer (coronal, another size, ImageType LOCALIZER) inside the series
    out["localizer"] = root / "localizer"
    files = write_ct_series(out["localizer"], seed=3, reverse_instances=True)
    from pydicom import dcmread

    ref = dcmread(files[0])
    rng = np.random.default_rng(3)
    loc = make_ct_dataset(
        ct_phantom_slice(60, 64, 0.5, rng),
        ipp=(-22.0, 0.0, -40.0),
        iop=(1, 0, 0, 0, 0, -1),
        pixel_spacing=(1.5, 0.7),
        thickness=1.0,
        series_uid=ref.SeriesInstanceUID,
        study_uid=ref.StudyInstanceUID,
        frame_uid=ref.FrameOfReferenceUID,
        instance_number=99,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    loc.save_as(out["localizer"] / "LOCALIZER.dcm", enforce_file_format=True)
    out["two_series"] = root / "two_series"
    study = generate_uid()
    write_ct_series(
        out["two_series"],
        seed=4,
        series_number=2,
        description="soft",
        study_uid=study,
        prefix="A",
        shuffle_names=True,
    )
    write_ct_series(
        out["two_series"],
        seed=5,
        series_number=3,
        description="lung",
        study_uid=study,
        prefix="B",
        rows=32,
        cols=40,
        spacing=5.0,
        iop=(1, 0, 0, 0, 0, -1),
    )  # coronal
    return out


# (name, tool command, dcm2niix can read it)
LOSSLESS = [
    ("j2k", ["gdcmconv", "--j2k"], True),
    ("jpegls", ["gdcmconv", "--jpegls"], False),  # Debian's dcm2niix has no JPEG-LS
    ("rle", ["gdcmconv", "--rle"], True),
    ("jpeg_sv1", ["gdcmconv", "--jpeg"], True),
    ("jpeg_p14", ["dcmcjpeg", "+el"], True),
    ("deflated", ["dcmconv", "+td"], False),
    ("big_endian", ["dcmconv", "+tb"], True),
    ("implicit", ["dcmconv", "+ti"], True),
]


def _export_and_oracle(src: Path, tmp: Path) -> tuple[list[Path], list[Path]]:
    ours = ownscan_export(src, tmp / "ours")
    theirs = dcm2niix(src, tmp / "dcm2niix")
    return ours, theirs


def _match(ours: list[Path], theirs: list[Path]) -> list[tuple[Path, Path]]:
    """Pair each dcm2niix output with ours of the same canonical shape and position."""
    pairs = []
    for t in theirs:
        tv, ta = canonical(t)
        cands = [
            o
            for o in ours
            if canonical(o)[0].shape == tv.shape and np.allclose(canonical(o)[1], ta, atol=0.01)
        ]
        assert cands, f"no ownscan output matches dcm2niix's {t.name} {tv.shape}"
        pairs.append((cands[0], t))
    return pairs


def test_real_mr_matches_dcm2niix(mr_head_dir: Path, tmp_path: Path) -> None:
    ours, theirs = _export_and_oracle(mr_head_dir, tmp_path)
    assert len(ours) == 1 and len(theirs) == 1
    compare(ours[0], theirs[0])


@pytest.mark.parametrize("scenario", ["axial", "oblique", "localizer", "two_series"])
def test_generated_matches_dcm2niix(
    scenarios: dict[str, Path], scenario: str, tmp_path: Path
) -> None:
    ours, theirs = _export_and_oracle(scenarios[scenario], tmp_path)
    if scenario == "two_series":
        assert len(ours) == 2 and len(theirs) == 2
    for o, t in _match(ours, theirs):
        compare(o, t)
    if scenario == "localizer":
        # the localizer is its own one-slice file, never inside the volume
        shapes = sorted(canonical(o)[0].shape for o in ours)
        assert len(ours) == 2 and any(1 in s for s in shapes)


@pytest.fixture(scope="session")
def transcoded(
    scenarios: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("transcoded")
    out = {}
    for scen in ("axial", "oblique"):
        for name, tool, _ in LOSSLESS:
            dst = root / scen / name
            gdcm_transcode(scenarios[scen], dst, tool)
            out[(scen, name)] = dst
    return out


@pytest.mark.parametrize("scenario", ["axial", "oblique"])
@pytest.mark.parametrize(
    ("codec", "tool", "oracle_reads_it"), LOSSLESS, ids=[c[0] for c in LOSSLESS]
)
def test_lossless_transcodes_match(
    scenarios: dict[str, Path],
    transcoded: dict,
    scenario: str,
    codec: str,
    tool: list[str],
    oracle_reads_it: bool,
    tmp_path: Path,
) -> None:
    src = transcoded[(scenario, codec)]
    ours = ownscan_export(src, tmp_path / "ours")
    original = dcm2niix(scenarios[scenario], tmp_path / "orig_dcm2niix")
    assert len(ours) == 1 and len(original) == 1
    # lossless: the same voxels as dcm2niix on the uncompressed original
    compare(ours[0], original[0])
    if oracle_reads_it:
        theirs = dcm2niix(src, tmp_path / "dcm2niix")
        compare(ours[0], theirs[0])


@pytest.mark.parametrize("per_slice", [False, True], ids=["same_scale", "per_slice_scale"])
def test_float_rescale_matches_dcm2niix(tmp_path: Path, per_slice: bool) -> None:
    """MR-style non-integer RescaleSlope/Intercept (float32 volume), also varying per slice."""
    from pydicom import dcmread

    files = write_ct_series(tmp_path / "in", n_slices=6, seed=9)
    for k, f in enumerate(files):
        ds = dcmread(f)
        ds.Modality = "MR"
        ds.RescaleSlope = f"{0.25 + (0.05 * k if per_slice else 0):.4f}"
        ds.RescaleIntercept = "-3.5"
        ds.save_as(f)
    vol = load_volume(tmp_path / "in")
    assert vol.voxels.dtype == np.float32
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "d")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0], exact=False)
