"""Legacy multi-frame files whose frames share the file's one Image Position, against dcm2niix.

A legacy (not enhanced) multi-frame CT/MR/NM image gives one Image Position for all its
frames; what the frames are is said, if at all, by Frame Increment Pointer and the attribute it
names, or by Frame Time / Spacing Between Slices. The rule (docs/CORE.md, "Legacy
multi-frame"): a pointer to Frame Time / Frame Time Vector is a cine (a 4D series along
time, in seconds); to Slice Location Vector or Slice Vector a volume; no pointer: Frame Time
alone a cine, Spacing Between Slices alone a volume (as dcm2niix stacks it, with a warning
that the direction along the normal is not recorded); anything else a warning that says why
it is not known, the frames shown in order at their one position. Made here from a
generated CT series; the NIfTI is compared with dcm2niix's, which stacks every such file as
slices (also the cine, whose frames it puts into space: only its voxels are compared).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped
from niicompare import compare, dcm2niix
from pydicom.tag import Tag

from ownscan.core import assemble

N = 5
SPACING = 3.0


def legacy(
    out: Path,
    *,
    pointers: list[int] = (),  # type: ignore[assignment]
    extra: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    origin: tuple[float, float, float] = (-22.0, -30.0, -100.0),
    seed: int = 1,
) -> np.ndarray:
    """One legacy multi-frame file at ``out`` holding a generated CT's ``N`` slices (feet to
    head) at its first slice's position; returns the stored frames (N, rows, cols)."""
    src = out.parent / f".{out.stem}-src"
    files = write_ct_series(src, n_slices=N, spacing=SPACING, origin=origin, seed=seed)
    dss = [pydicom.dcmread(f) for f in files]
    stored = np.stack(
        [np.frombuffer(d.PixelData, np.int16).reshape(d.Rows, d.Columns) for d in dss]
    )
    ds = dss[0]
    ds.NumberOfFrames = N
    ds.PixelData = b"".join(d.PixelData for d in dss)
    if pointers:
        tags = [Tag(t) for t in pointers]
        ds.FrameIncrementPointer = tags if len(tags) > 1 else tags[0]
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    for k in drop:
        delattr(ds, k)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out)
    for f in files:
        f.unlink()
    src.rmdir()
    return stored


def _export(folder: Path, out: Path) -> list[Path]:
    r = capped("export", str(folder), "-o", str(out), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    return sorted(out.glob("*.nii"))


VOLUMES = {
    "spacing-between-slices": {"extra": {"SpacingBetweenSlices": str(SPACING)}},
    # Spacing Between Slices is the step, not Slice Thickness (dcm2niix uses it too)
    "spacing-not-thickness": {
        "extra": {"SpacingBetweenSlices": str(SPACING), "SliceThickness": "2.0"}
    },
    "slice-location-vector": {
        "pointers": [0x00182005],
        "extra": {"SliceLocationVector": [f"{k * SPACING:g}" for k in range(N)]},
    },
    "nm-slice-vector": {
        "pointers": [0x00540080],
        "extra": {"SliceVector": list(range(1, N + 1)), "SpacingBetweenSlices": str(SPACING)},
    },
}


@pytest.mark.parametrize("name", list(VOLUMES))
def test_a_volume_the_file_says_is_stacked_like_dcm2niix(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    stored = legacy(folder / "mf.dcm", **VOLUMES[name])  # type: ignore[arg-type]
    (series,) = assemble(folder).series
    assert series.kind == "volume" and series.n_volumes == 1
    assert series.shape == (N, 48, 64) and series.spacing[2] == pytest.approx(SPACING)
    text = " ".join(series.warnings)
    assert "which way the slices run is not recorded" in text and "mf.dcm" in text, text
    vol = series.load()
    assert np.array_equal(vol.voxels, stored.astype(np.int32) - 1024)
    ours = _export(folder, tmp_path / "ours")
    theirs = dcm2niix(folder, tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])


CINES = {
    "frame-time": ({"pointers": [0x00181063], "extra": {"FrameTime": "40"}}, 0.04),
    "frame-time-vector": (
        {"pointers": [0x00181065], "extra": {"FrameTimeVector": ["0"] + ["40"] * (N - 1)}},
        0.04,
    ),
    "frame-time-without-pointer": ({"extra": {"FrameTime": "25"}}, 0.025),
}


@pytest.mark.parametrize("name", list(CINES))
def test_a_cine_the_file_says_is_time(name: str, tmp_path: Path) -> None:
    kw, step = CINES[name]
    folder = tmp_path / "in"
    stored = legacy(folder / "mf.dcm", **kw)  # type: ignore[arg-type]
    (series,) = assemble(folder).series
    assert series.n_volumes == N and series.shape == (1, 48, 64)
    dim = series.dimension
    assert dim is not None and dim.name == "time" and dim.unit == "s"
    assert dim.values == pytest.approx([k * step for k in range(N)])
    assert not series.warnings, series.warnings
    for k in range(N):
        assert np.array_equal(series.load(volume=k).voxels[0], stored[k].astype(np.int32) - 1024)
    r = capped("info", str(folder))
    assert f"{N} time volumes (0..{(N - 1) * step:g} s, by FrameTime)" in r.stdout, r.stdout
    # the 4D NIfTI holds the frames along time; dcm2niix holds the same frames along z
    (ours,) = _export(folder, tmp_path / "ours")
    (theirs,) = dcm2niix(folder, tmp_path / "theirs")
    a = np.asarray(nib.load(ours).dataobj)
    b = np.asarray(nib.load(theirs).dataobj)
    assert a.shape == (64, 48, 1, N) and b.shape == (64, 48, N)
    assert nib.load(ours).header.get_zooms()[3] == pytest.approx(step)  # seconds a frame
    assert np.array_equal(a[:, :, 0, :], b[:, ::-1, :])  # dcm2niix flips the rows


AMBIGUOUS = {
    "slice-thickness-only": ({}, "no Frame Increment Pointer, Frame Time or Spacing Between"),
    "nothing": ({"drop": ("SliceThickness",)}, "no Frame Increment Pointer"),
    "both-kinds-of-pointer": (
        {
            "pointers": [0x00540080, 0x00540070],
            "extra": {"SliceVector": list(range(1, N + 1)), "TimeSlotVector": [1] * N},
        },
        "its Frame Increment Pointer names SliceVector, (0054,0070)",
    ),
    "frame-time-and-spacing": (
        {"extra": {"FrameTime": "40", "SpacingBetweenSlices": "3"}},
        "both Frame Time (a cine) and Spacing Between Slices (a volume)",
    ),
    "pointer-without-values": ({"pointers": [0x00182005]}, "SliceLocationVector, without a"),
}


@pytest.mark.parametrize("name", list(AMBIGUOUS))
def test_ambiguous_frames_are_said_and_kept_in_order(name: str, tmp_path: Path) -> None:
    kw, why = AMBIGUOUS[name]
    folder = tmp_path / "in"
    stored = legacy(folder / "mf.dcm", **kw)  # type: ignore[arg-type]
    (series,) = assemble(folder).series
    text = " ".join(series.warnings)
    assert why in text and "whether they are time points or slices is not known" in text, text
    assert str(folder / "mf.dcm") in text, text
    assert series.n_volumes == N and series.shape == (1, 48, 64)
    for k in range(N):  # every frame shown, in the file's order, at the file's position
        assert np.array_equal(series.load(volume=k).voxels[0], stored[k].astype(np.int32) - 1024)
    r = capped("info", str(folder))
    assert r.returncode == 0 and "whether they are time points or slices" in r.stdout


def test_several_cine_files_one_per_slice_make_one_4d_series(tmp_path: Path) -> None:
    """An old cardiac cine: one legacy multi-frame file per slice position, the frames of
    each the time points (Frame Time): one 4D series, slices x time, no warning."""
    folder = tmp_path / "in"
    uid = pydicom.uid.generate_uid()
    stored = []
    for z in range(3):
        stored.append(
            legacy(
                folder / f"slice{z}.dcm",
                pointers=[0x00181063],
                extra={"FrameTime": "30", "SeriesInstanceUID": uid, "InstanceNumber": z + 1},
                origin=(-22.0, -30.0, -100.0 + 6.0 * z),
                seed=z + 1,
            )
        )
    (series,) = assemble(folder).series
    assert not series.warnings, series.warnings
    assert series.shape == (3, 48, 64) and series.n_volumes == N
    assert series.dimension is not None and series.dimension.name == "time"
    assert series.spacing[2] == pytest.approx(6.0)
    for t in range(N):
        vol = series.load(volume=t)
        for z in range(3):
            assert np.array_equal(vol.voxels[z], stored[z][t].astype(np.int32) - 1024)
