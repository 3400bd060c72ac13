"""``ownscan render``: PNG out, the options, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ownscan.core.cli import main


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


@pytest.mark.parametrize("backend", ["gl", "cpu"])
def test_sample_axial_slice_has_the_heart_on_the_image_right(tmp_path, capsys, backend):
    out = tmp_path / "axial.png"
    rc = main(
        [
            "render",
            "--phantom",
            "-o",
            str(out),
            "--mode",
            "mpr",
            "--plane",
            "axial",
            "--preset",
            "mediastinum",
            "--size",
            "120x100",
            "--backend",
            backend,
        ]
    )
    assert rc == 0
    said = capsys.readouterr().out
    assert f"wrote {out} (120x100, mpr, {backend} backend" in said
    img = _png(out)
    assert img.shape == (100, 120, 3)
    grey = (img[..., 0] > 90) & (img[..., 0] < 170)  # soft tissue in the mediastinum window
    # the heart lies in front (up in the axial view) and to the patient's left (image right);
    # the mirror-image box on the other side is lung
    right_box, left_box = grey[25:50, 66:84], grey[25:50, 36:54]
    assert right_box.mean() > 0.6 and left_box.mean() < 0.2


def test_gl_and_cpu_pngs_agree_and_annotate_draws(tmp_path, capsys):
    args = [
        "render",
        "--phantom",
        "--mode",
        "dvr",
        "--preset",
        "ct-bone",
        "--size",
        "96x96",
        "--azimuth",
        "30",
        "--elevation",
        "10",
    ]
    assert main([*args, "-o", str(tmp_path / "gl.png"), "--backend", "gl"]) == 0
    assert main([*args, "-o", str(tmp_path / "cpu.png"), "--backend", "cpu"]) == 0
    assert main([*args, "-o", str(tmp_path / "ann.png"), "--annotate"]) == 0
    gl, cpu, ann = (_png(tmp_path / f"{n}.png") for n in ("gl", "cpu", "ann"))
    diff = np.abs(gl.astype(int) - cpu.astype(int)).max(axis=-1)
    assert diff.max() <= 3 and (diff > 2).mean() <= 0.001
    assert gl.std() > 5
    changed = np.any(ann != gl, axis=-1)
    assert 0.002 < changed.mean() < 0.2  # labels and a scale bar, not a different picture


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--phantom", "--mode", "fancy"],
            "unknown mode 'fancy'; valid: dvr, iso, minip, mip, mpr",
        ),
        (["--phantom", "--preset", "nope"], "unknown preset 'nope'; valid: ct-bone"),
        (["--phantom", "--window", "400"], "give --window and --level together"),
        ([], "give a SOURCE"),
        (["/no/such/folder"], "no such file or folder: /no/such/folder"),
        (
            ["--phantom", "--mode", "mpr", "--offset", "9999"],
            "--offset 9999 mm: the plane lies outside the volume",
        ),
    ],
    ids=["mode", "preset", "window", "nothing", "missing-source", "offset-outside"],
)
def test_errors_are_one_line(tmp_path, capsys, argv, message):
    rc = main(["render", *argv, "-o", str(tmp_path / "x.png"), "--size", "16x16"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("ownscan render: error:") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("size", "message"),
    [("big", "--size must be WxH, e.g. 512x512, got 'big'"), ("0x5", "within 1..8192")],
)
def test_bad_size_is_refused_in_one_line(tmp_path, capsys, size, message):
    assert main(["render", "--phantom", "-o", str(tmp_path / "x.png"), "--size", size]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ownscan render: error: ") and message in err and err.count("\n") == 1


def test_output_to_a_folder_or_a_missing_folder_is_one_line(tmp_path, capsys):
    argv = ["render", "--phantom", "--mode", "mpr", "--size", "8x8", "-o"]
    assert main([*argv, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"ownscan render: error: -o {tmp_path}: is a folder; give a file name, e.g. " \
        f"{tmp_path}/picture.png\n"  # fmt: skip
    assert main([*argv, str(tmp_path / "nope" / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err == f"ownscan render: error: -o {tmp_path / 'nope' / 'x.png'}: no such folder " \
        f"{tmp_path / 'nope'}\n"  # fmt: skip
    assert main([*argv, str(tmp_path / "no-extension")]) == 0  # a PNG whatever the name
    with Image.open(tmp_path / "no-extension") as im:
        assert im.format == "PNG"


def test_sample_series_error_names_the_sample_not_its_path(tmp_path, capsys):
    assert main(["render", "--sample", "--series", "5", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err == "ownscan render: error: --series 5: the sample has series 1..1\n"


def test_bundled_sample_head_renders_anterior(tmp_path, capsys):
    out = tmp_path / "head.png"
    assert main(["render", "--sample", "--mode", "mip", "-o", str(out), "--size", "80x80"]) == 0
    assert "mip, gl backend, MR volume" in capsys.readouterr().out
    img = _png(out)
    assert (img[..., 0] > 40).mean() > 0.2  # a head fills a good part of the picture


def test_real_series_from_a_folder(tmp_path, capsys, mr_head_dir):
    out = tmp_path / "sag.png"
    argv = [str(mr_head_dir), "--mode", "mpr", "--plane", "sagittal", "--annotate"]
    assert main(["render", *argv, "-o", str(out), "--size", "128x128"]) == 0
    assert "MR volume 274x384x384" in capsys.readouterr().out
    img = _png(out)
    assert img.shape == (128, 128, 3) and img.std() > 20


def test_without_egl_auto_falls_back_visibly_and_gl_fails_in_one_line(tmp_path):
    """EGL really unavailable: glvnd pointed at no vendor library, in a child process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "__EGL_VENDOR_LIBRARY_FILENAMES": str(tmp_path / "none.json")}
    base = [sys.executable, "-m", "ownscan.core.cli", "render", "--phantom", "--mode", "mip"]
    base += ["--size", "24x24"]
    auto = subprocess.run(
        [*base, "--backend", "auto", "-o", str(tmp_path / "a.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert auto.returncode == 0, auto.stderr
    assert "OpenGL unavailable" in auto.stderr and "array renderer" in auto.stderr
    assert "cpu backend" in auto.stdout and (tmp_path / "a.png").exists()
    gl = subprocess.run(
        [*base, "--backend", "gl", "-o", str(tmp_path / "g.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gl.returncode == 2
    assert gl.stderr.startswith("ownscan render: error: cannot create an OpenGL 3.3 context")
    assert gl.stderr.count("\n") == 1 and "--backend cpu" in gl.stderr


def test_gpu_budget_draws_through_bricks_at_full_resolution(tmp_path, capsys):
    """The phantom's 256x256x128 voxels take 16 MiB on the GPU: with a 4 MiB budget they are
    drawn brick by brick, uploaded as each frame needs them, at full resolution: the same
    picture as with 64 MiB, and no note (nothing is averaged down)."""
    pictures = {}
    for budget in ("64", "4"):
        out = tmp_path / f"mip-{budget}.png"
        argv = ["render", "--phantom", "--mode", "mip", "--backend", "gl", "--size", "64x64"]
        assert main([*argv, "--gpu-budget", budget, "-o", str(out)]) == 0
        pictures[budget] = _png(out).astype(int)
        err = capsys.readouterr().err
        assert "note:" not in err, err
    full, bricked = pictures["64"], pictures["4"]
    assert full.std() > 20 and np.abs(full - bricked).max() <= 3


def test_bad_gpu_budget_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["render", "--phantom", "-o", "x.png", "--gpu-budget", "0"])
    assert "--gpu-budget takes MiB > 0" in capsys.readouterr().err
