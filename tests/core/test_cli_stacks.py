"""`ownscan info`, `render` and `export` on a library series of three stacks (tests/core/
stacksgen.py): info lists each stack with assembly's warning, render says which stacks exist
and draws the one asked, export writes one file per stack (never one merged volume)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from stacksgen import SERIES_UID, write_three_stacks


def _ownscan(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("ownscan")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clistacks")
    write_three_stacks(root / "in")
    r = _ownscan("import", str(root / "in"), "--library", str(root / "lib"))
    assert r.returncode == 0, r.stderr
    return root / "lib"


def test_info_lists_each_stack(library: Path) -> None:
    r = _ownscan("info", f"library:{SERIES_UID}", "--library", str(library))
    assert r.returncode == 0, r.stderr
    for n in (1, 2, 3):
        assert f"[{n}] Series 1 L-spine ax T2 part {n}: CT volume 48x48x8" in r.stdout
    assert r.stdout.count("split into 3 stacks") == 3


def test_render_names_the_stacks_and_draws_the_one_asked(library: Path, tmp_path: Path) -> None:
    src = ("render", f"library:{SERIES_UID}", "--library", str(library))
    common = ("--mode", "mpr", "--plane", "axial", "--size", "128x128")
    plain = _ownscan(*src, *common, "-o", str(tmp_path / "plain.png"))
    assert plain.returncode == 0, plain.stderr
    assert "this series holds 3 stacks" in plain.stderr
    for n in (1, 2, 3):
        assert f"--series {n} (stack {n} of 3, " in plain.stderr
    pictures = []
    for n in (1, 2, 3):
        r = _ownscan(*src, *common, "--series", str(n), "-o", str(tmp_path / f"{n}.png"))
        assert r.returncode == 0, r.stderr
        pictures.append(np.asarray(Image.open(tmp_path / f"{n}.png").convert("L"), dtype=int))
    # each stack is its own picture (seeded anatomy and angle differ)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert np.abs(pictures[a] - pictures[b]).max() > 50
    chosen = int(plain.stderr.rsplit("drawing --series ", 1)[1].split()[0])
    plain_pic = np.asarray(Image.open(tmp_path / "plain.png").convert("L"), dtype=int)
    np.testing.assert_array_equal(plain_pic, pictures[chosen - 1])


def test_export_writes_one_file_per_stack(library: Path, tmp_path: Path) -> None:
    import nibabel as nib

    r = _ownscan("export", f"library:{SERIES_UID}", "--library", str(library), "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("*.nii.gz"))
    assert [f.name for f in files] == [f"1_L-spine_ax_T2_part_{n}.nii.gz" for n in (1, 2, 3)]
    affines = [nib.load(f).affine for f in files]
    assert all(nib.load(f).shape == (48, 48, 8) for f in files)
    assert not np.allclose(affines[0], affines[1]) and not np.allclose(affines[1], affines[2])
