"""Every file ``ownscan export`` writes from a series' pixels carries the series' warnings,
the way its format allows (ownscan.core.recorded; docs/EXPORT.md, "Warnings in the files"), and
the command prints them: the movie (GIF/MP4 comment and a ``.warnings.txt`` beside every
movie), the meshes (OBJ/PLY comments; STL: a sidecar its header points to), the ``share``
package (README.TXT, INDEX.HTM). (render and compare: test_truth5_render_png.py.)

The series: a generated CT with a gantry tilt and two slices missing (two warnings, one naming
a file with its folder: the files record it without the folder)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pytest
import trimesh
from ctgen import write_ct_series
from PIL import Image

from ownscan.core import assemble
from ownscan.core.cli import main
from ownscan.core.recorded import SIDECAR_SUFFIX


def _warned(folder: Path) -> list[str]:
    """A CT of a tilted gantry with two slices missing; the warnings as its files record them
    (the folder left out of the file names)."""
    write_ct_series(
        folder, tilt_deg=12.0, positions=[k * 2.5 for k in range(10) if k not in (4, 5)]
    )
    (s,) = assemble(folder).series
    assert len(s.warnings) == 2, s.warnings
    assert any(str(folder) in w for w in s.warnings)  # said with the folder on the terminal
    return [w.replace(str(folder) + "/", "") for w in s.warnings]


def _said(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("ownscan export: warning: ")]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _check_sidecar(path: Path, recorded: list[str], tmp_path: Path) -> None:
    text = _sidecar(path).read_text(encoding="utf-8")
    assert path.name in text.splitlines()[0]  # says which file it belongs to
    assert text.splitlines()[1:] == [f"- {w}" for w in recorded]
    assert str(tmp_path) not in text


MOVIE = ["--format", "movie", "--frames", "3", "--size", "32x32", "--backend", "cpu"]


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_a_movie_carries_the_warnings(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = _warned(tmp_path / "in")
    out = tmp_path / f"turn{suffix}"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), *MOVIE]) == 0
    cap = capsys.readouterr()
    assert len(_said(cap.err)) == 2  # printed, as for every format
    assert cap.out.split() == [str(out), str(_sidecar(out))]  # both files named
    _check_sidecar(out, recorded, tmp_path)
    text = "\n".join(recorded)
    if suffix == ".gif":  # the GIF comment extension
        with Image.open(out) as im:
            assert im.info["comment"].decode("utf-8") == text
            assert im.n_frames == 3
    elif suffix == ".mp4":  # the MP4's comment metadata, written by ffmpeg
        assert text.encode("utf-8") in out.read_bytes()
    else:  # WebP has no text field: the sidecar alone
        with Image.open(out) as im:
            assert im.n_frames == 3


def test_a_movie_of_a_series_without_warnings_has_no_sidecar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ct_series(tmp_path / "in", n_slices=6)
    out = tmp_path / "turn.gif"
    assert main(["export", str(tmp_path / "in"), "-o", str(out), *MOVIE]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "turn.gif"]
    with Image.open(out) as im:
        assert "comment" not in im.info


def test_a_taken_sidecar_name_is_refused_before_the_movie_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _warned(tmp_path / "in")
    out = tmp_path / "turn.gif"
    _sidecar(out).write_text("mine")
    assert main(["export", str(tmp_path / "in"), "-o", str(out), *MOVIE]) != 0
    assert "turn.gif.warnings.txt" in capsys.readouterr().err
    assert not out.exists() and _sidecar(out).read_text() == "mine"  # nothing replaced


MESH = ["--max-triangles", "3000", "--smooth", "0", "--threshold", "200"]


@pytest.mark.parametrize("fmt", ["stl", "obj", "ply"])
def test_a_mesh_carries_the_warnings(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = _warned(tmp_path / "in")
    out = tmp_path / f"bone.{fmt}"
    assert main(["export", str(tmp_path / "in"), "--format", fmt, "-o", str(out), *MESH]) == 0
    cap = capsys.readouterr()
    assert len(_said(cap.err)) == 2
    data = out.read_bytes()
    mesh = trimesh.load(out, file_type=fmt)
    assert mesh.is_watertight and len(mesh.faces) > 100  # the comments cost the reader nothing
    if fmt == "stl":  # 80 bytes: the header points to the sidecar
        assert data[:80].startswith(b"ownscan: 2 series warnings: see the .warnings.txt")
        assert not data.startswith(b"solid")  # not taken for an ASCII STL
        assert cap.out.split() == [str(out), str(_sidecar(out))]
        _check_sidecar(out, recorded, tmp_path)
        return
    assert cap.out.split() == [str(out)]  # in the file: no sidecar
    assert not _sidecar(out).exists()
    if fmt == "obj":
        lines = data.decode("utf-8").splitlines()
        assert lines[:2] == [f"# ownscan warning: {w}" for w in recorded]
    else:
        header = data[: data.index(b"end_header\n")].decode("ascii").splitlines()
        assert header[:2] == ["ply", "format binary_little_endian 1.0"]
        assert [ln for ln in header if ln.startswith("comment ownscan")] == [
            f"comment ownscan warning: {w}" for w in recorded
        ]
    assert str(tmp_path).encode() not in data


def test_the_mesh_is_the_same_with_and_without_its_comments(tmp_path: Path) -> None:
    """The surface of a series with warnings, read back, is the one made of its volume."""
    from ownscan.plugins.mesh import MeshExporter, MeshOptions, surface_mesh

    _warned(tmp_path / "in")
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    opts = {"threshold": 200.0, "max_triangles": 3000, "smooth": 0}
    want = surface_mesh(vol, MeshOptions.from_options(opts))
    for fmt in ("obj", "ply", "stl"):
        paths = MeshExporter(fmt, "").export([vol], tmp_path / f"m.{fmt}", opts)
        got = trimesh.load(paths[0], file_type=fmt)
        np.testing.assert_allclose(got.bounds, want.bounds, atol=1e-4)
        assert got.volume == pytest.approx(want.volume, rel=1e-4)


def test_the_share_package_says_the_warnings_to_the_doctor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = _warned(tmp_path / "in")
    out = tmp_path / "pkg"
    assert main(["export", str(tmp_path / "in"), "--format", "share", "-o", str(out)]) == 0
    assert len(_said(capsys.readouterr().err)) == 2
    readme = (out / "README.TXT").read_text(encoding="utf-8")
    index = (out / "INDEX.HTM").read_text(encoding="utf-8")
    assert "Warnings" in readme and "<h2>Warnings</h2>" in index
    for w in recorded:
        assert f"  - {w}" in readme
        assert html.escape(w) in index
    assert str(tmp_path) not in readme + index


def test_a_share_package_without_warnings_has_no_warnings_section(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "in", n_slices=4)
    out = tmp_path / "pkg"
    assert main(["export", str(tmp_path / "in"), "--format", "share", "-o", str(out)]) == 0
    assert "Warnings" not in (out / "README.TXT").read_text(encoding="utf-8")
    assert "Warnings" not in (out / "INDEX.HTM").read_text(encoding="utf-8")
