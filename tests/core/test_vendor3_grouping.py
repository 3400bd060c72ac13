"""Grouping a series into stacks where vendors leave the usual attributes out or alike.

* **Echoes told apart by Echo Time alone** (every image Echo Numbers 1, as some GE and
  older exports have it). Both echoes lie at the same positions; Echo Numbers did not
  separate them, so the second echo was reported as duplicate positions and dropped (one
  warning). dcm2niix splits them by Echo Time (``..._0_.nii`` and ``..._0_a.nii``); they
  are now two series tagged ``e1`` and ``e2`` by rising Echo Time, each equal to
  dcm2niix's file. A stray Echo Time on one slice splits nothing.
* **Two pixel spacings in one series** (same size, orientation and slice direction): they
  were one volume sized by the first image's spacing, half of it shown at the wrong size
  (dcm2niix does the same, without a word); they are now two stacks, said in a warning.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from ctgen import write_ct_series
from niicompare import compare, dcm2niix, ownscan_export
from pydicom.uid import MRImageStorage, generate_uid

from ownscan.core import assemble


def _echoes(folder: Path, times: dict[str, float]) -> None:
    uids = {k: generate_uid() for k in ("series_uid", "study_uid", "frame_uid")}
    for seed, prefix in enumerate(times, 1):
        write_ct_series(folder, n_slices=5, prefix=prefix, seed=seed, **uids)
    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.Modality, ds.SOPClassUID = "MR", MRImageStorage
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.EchoNumbers, ds.EchoTime = 1, times[f.name.split("_")[0] + "_"]
        ds.save_as(f)


def test_echoes_told_apart_by_echo_time_like_dcm2niix(tmp_path: Path) -> None:
    _echoes(tmp_path / "in", {"late_": 30.0, "early_": 12.0})
    found = assemble(tmp_path / "in")
    assert sorted(s.tag for s in found.series) == ["e1", "e2"], [s.label for s in found.series]
    for s in found.series:
        assert s.n_images == 5 and not any("duplicate" in w for w in s.warnings), s.warnings
        want = "early_" if s.tag == "e1" else "late_"
        assert all(Path(f).name.startswith(want) for f in s.files), s.files
        assert s.acquisition()["EchoTime"] == (0.012 if s.tag == "e1" else 0.03)
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert [p.name for p in ours] == ["1_generated_CT_e1.nii", "1_generated_CT_e2.nii"]
    assert len(theirs) == 2
    for o, t in zip(ours, theirs, strict=True):  # dcm2niix: early first, then "a"
        compare(o, t)


def test_stray_echo_times_split_nothing(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=6)
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.EchoTime = 12.0 if k != 3 else 12.5
        ds.save_as(f)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_images == 6 and s.kind == "volume"
    for k, f in enumerate(files):  # every slice its own Echo Time: still one volume
        ds = pydicom.dcmread(f)
        ds.EchoTime = 12.0 + 0.1 * k
        ds.save_as(f)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_images == 6 and s.kind == "volume"


def test_two_pixel_spacings_are_two_stacks(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=8)
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        if k % 2:  # interleaved, so that neither half alone looks like a gap
            ds.PixelSpacing = ["1.2", "1.1"]
        ds.save_as(f)
    found = assemble(tmp_path / "in")
    assert len(found.series) == 2, [s.label for s in found.series]
    for s in found.series:
        assert s.n_images == 4
        assert any("pixel spacings 0.7x0.8 mm, 1.1x1.2 mm" in w for w in s.warnings), s.warnings
        sp = {tuple(pydicom.dcmread(f).PixelSpacing) for f in s.files}
        assert len(sp) == 1 and s.spacing[:2] == tuple(reversed([float(v) for v in sp.pop()]))
    # the same spacing written with other rounding stays one stack
    for f in files:
        ds = pydicom.dcmread(f)
        ds.PixelSpacing = ["0.8000001", "0.7"] if f == files[3] else ["0.8", "0.7"]
        ds.save_as(f)
    (s,) = assemble(tmp_path / "in").series
    assert s.n_images == 8
