"""A legacy multi-frame cine whose Frame Time Vector is irregular: the NIfTI's one time step
(``pixdim[4]``) is the mean interval, not the first; the series says so (``info``, ``export``
and the viewer show the warning) and the sidecar holds the real times (``FrameTimesStart``).

dcm2niix (1.0.20220720, run here) ignores the vector: it stacks such frames as slices with
no time at all, so it is the oracle for the frames, not for the times."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from niicompare import dcm2niix
from test_truth3_legacy_multiframe import N, legacy

from ownscan.core import assemble
from ownscan.core.cli import main

VECTOR = ["0", "40", "40", "80", "40"]  # ms since the previous frame
TIMES = [0.0, 0.04, 0.08, 0.16, 0.2]


def test_irregular_frame_times_are_said_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(VECTOR) == N
    folder = tmp_path / "in"
    legacy(folder / "mf.dcm", pointers=[0x00181065], extra={"FrameTimeVector": VECTOR})
    (s,) = assemble(folder).series
    assert s.dimension is not None and list(s.dimension.values) == pytest.approx(TIMES)
    (w,) = [w for w in s.warnings if "irregular Frame Time Vector" in w]
    assert "0.04 to 0.08 s apart" in w and "mean, 0.05 s" in w
    out = tmp_path / "out"
    assert main(["export", str(folder), "-o", str(out), "--uncompressed", "--json"]) == 0
    assert w in capsys.readouterr().err
    (nii,) = out.glob("*.nii")
    img = nib.load(nii)
    assert img.header.get_zooms()[3] == pytest.approx(0.05)  # the mean, not the first 0.04
    side = json.loads(nii.with_suffix(".json").read_text())
    assert side["FrameTimesStart"] == pytest.approx(TIMES)
    assert w in side["ConversionWarnings"]
    # the frames themselves, against dcm2niix's (which holds them along z, rows flipped)
    (theirs,) = dcm2niix(folder, tmp_path / "theirs")
    a = np.asarray(img.dataobj)
    b = np.asarray(nib.load(theirs).dataobj)
    assert np.array_equal(a[:, :, 0, :], b[:, ::-1, :])


def test_regular_frame_times_say_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    legacy(folder / "mf.dcm", pointers=[0x00181065], extra={"FrameTimeVector": ["0"] + ["40"] * 4})
    (s,) = assemble(folder).series
    assert not s.warnings
