"""``ownscan compare`` end to end on a CT phantom pair: a new 8 mm lesion shows in the difference
view at its place and nothing comparable elsewhere; different patients are refused; a
registration kept in the library is reused, not computed again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ctpair import LESION, LESION_HU, write_ct_pair
from PIL import Image
from volgen import write_volume_series

from ownscan.core.cli import main
from ownscan.core.compare import (
    compare_planes,
    draw_comparison,
    plane_through,
    register,
    scanner_registration,
)
from ownscan.core.library import open_library
from ownscan.core.plugin_types import SourceItem
from ownscan.core.volume import SeriesInfo, Volume


@pytest.fixture(scope="module")
def ct_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The CT phantom pair (ctpair.py), written as DICOM."""
    return write_ct_pair(tmp_path_factory.mktemp("ct"))


@pytest.mark.slow
def test_the_new_lesion_shows_in_the_difference_and_nothing_else(ct_pair, tmp_path) -> None:
    prior, current = ct_pair["prior"], ct_pair["current"]
    assert isinstance(prior, Volume) and isinstance(current, Volume)
    reg = register(prior, current)
    assert not reg.poor, reg.notes
    truth = ct_pair["truth"]
    assert isinstance(truth, np.ndarray)
    np.testing.assert_allclose(reg.apply(LESION), truth[:3, :3] @ LESION + truth[:3, 3], atol=0.6)

    plane = plane_through(current, f"axial:{LESION[2]}")
    planes = compare_planes(prior, current, reg, plane)
    diff = np.nan_to_num(planes.difference)
    # the difference averaged over lesion-sized squares (8 mm)
    mm = plane.pixel_mm
    k = round(8.0 / mm)
    c = np.cumsum(np.cumsum(np.pad(diff, ((1, 0), (1, 0))), 0), 1)
    box = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / k**2
    peak = np.unravel_index(np.argmax(np.abs(box)), box.shape)
    col, row = plane.pixel_of(LESION)
    found_col, found_row = peak[1] + (k - 1) / 2, peak[0] + (k - 1) / 2
    assert np.hypot(found_col - col, found_row - row) * mm < 2.0  # at its place, within 2 mm
    lesion_mean = float(box[peak])
    assert lesion_mean > 0.4 * LESION_HU  # brighter in the current, as it is
    rows, cols = np.indices(box.shape)
    far = np.hypot(cols + (k - 1) / 2 - col, rows + (k - 1) / 2 - row) * mm > 10.0
    assert np.abs(box[far]).max() < 0.4 * lesion_mean  # nothing comparable elsewhere

    # without registration (scanner coordinates) the chest's edges dominate instead
    wrong = compare_planes(prior, current, scanner_registration(prior, current), plane)
    assert np.nanmax(np.abs(wrong.difference)) > 3 * np.abs(diff).max() / 2

    # the picture: three panels, the difference panel red at the lesion
    out = tmp_path / "diff.png"
    root = ct_pair["root"]
    assert isinstance(root, Path)
    rc = main(
        [
            "compare",
            str(root / "prior"),
            str(root / "current"),
            "-o",
            str(out),
            "--mode",
            "difference",
            "--slice",
            f"axial:{LESION[2]}",
        ]
    )
    assert rc == 0
    png = np.asarray(Image.open(out).convert("RGB")).astype(int)
    layout = draw_comparison(prior, current, reg, planes, "difference")
    assert png.shape == layout.rgb.shape
    x0, y0 = layout.panels[2]
    at = png[y0 + round(row) - 1 : y0 + round(row) + 2, x0 + round(col) - 1 : x0 + round(col) + 2]
    assert (at[..., 0] > 100).all() and (at[..., 0] > 2 * at[..., 2]).all()  # red: brighter now


def test_different_patients_are_refused(ct_pair, tmp_path, capsys) -> None:
    root = ct_pair["root"]
    assert isinstance(root, Path)
    prior = ct_pair["prior"]
    assert isinstance(prior, Volume)
    other = SeriesInfo(patient_name="ROE^RICHARD", patient_id="X-9", patient_birth_date="19600101")
    write_volume_series(
        tmp_path / "other",
        prior.voxels[::4],
        spacing=(prior.spacing[0], prior.spacing[1], 4 * prior.spacing[2]),
        origin=prior.origin,
        direction=prior.direction,
        modality="CT",
        info=other,
    )
    rc = main(["compare", str(tmp_path / "other"), str(root / "current"), "--no-register"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not look like the same patient" in err
    assert "patient ID 'X-9' vs 'CT-1'" in err and "name 'ROE RICHARD' vs 'PHANTOM CT'" in err
    assert "birth date" not in err  # it is the same
    assert "--force" in err
    out = tmp_path / "forced.png"
    forced = ["--no-register", "--force", "-o", str(out)]
    assert main(["compare", str(tmp_path / "other"), str(root / "current"), *forced]) == 0
    assert "forced" in capsys.readouterr().err
    # the picture carries the warning as a red banner under the titles
    png = np.asarray(Image.open(out).convert("RGB"))
    assert (png[:60] == (170, 0, 0)).all(axis=-1).sum() > 1000


@pytest.mark.slow
def test_a_kept_registration_is_reused(ct_pair, tmp_path, capsys, monkeypatch) -> None:
    """Both series from the library: the first call registers and keeps the result, the
    second reads it back (registering again would fail here) and prints the same transform."""
    root = ct_pair["root"]
    assert isinstance(root, Path)
    lib_dir = tmp_path / "lib"
    with open_library(lib_dir) as lib:
        for name in ("prior", "current"):
            files = sorted((root / name).iterdir())
            lib.import_items([SourceItem(origin=str(p), path=p) for p in files])
        uids = {s.description: s.series_uid for s in lib.series()}
    args = ["compare", "auto", "library:" + uids["CT chest 2025"], "--library", str(lib_dir)]
    assert main([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["reused"] is False
    assert first["prior"]["series_uid"] == uids["CT chest 2024"]  # 'auto' found the prior
    assert first["current"]["patient_id"] == "CT-1"
    assert first["method"] == "rigid-mattes-mi-v1" and first["poor"] is False
    assert len(first["transform"]) == 4 and first["transform"][3] == [0.0, 0.0, 0.0, 1.0]

    import ownscan.core.compare as compare

    def fail(*_a: object, **_k: object) -> None:
        raise AssertionError("registered again")

    monkeypatch.setattr(compare, "register", fail)
    prior_arg = "library:" + uids["CT chest 2024"]
    assert main([*args[:1], prior_arg, *args[2:], "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["reused"] is True
    assert second["transform"] == first["transform"]
    assert second["quality"] == first["quality"]
    # --again registers anew (main reports the exception as an internal error)
    assert main([*args, "--again"]) == 70
    assert "registered again" in capsys.readouterr().err


def test_without_simpleitk_only_registration_is_missing(ct_pair, monkeypatch, capsys) -> None:
    """SimpleITK is an optional extra: without it registration says how to install it, and
    scanner coordinates still work."""
    root = ct_pair["root"]
    assert isinstance(root, Path)
    monkeypatch.setitem(sys.modules, "SimpleITK", None)  # `import SimpleITK` now fails
    from ownscan.core.compare import is_available

    assert not is_available()
    pair = [str(root / "prior"), str(root / "current")]
    assert main(["compare", *pair]) == 2
    err = capsys.readouterr().err
    assert "pip install ownscan[compare]" in err and "--no-register" in err
    assert main(["compare", *pair, "--no-register", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "scanner" and out["transform"][0] == [1.0, 0.0, 0.0, 0.0]
