"""The bench's load and import parts: each transfer syntax written by its real encoder (the
file says so and decodes to the same voxels), tools that cannot read a series or are missing
give rows with the reason, ``ownscan import`` beside ``cp -r``, and the peak RSS of a measured
program is its own, not the bench's. No timed assertions."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames

from ownscan.core import assemble
from ownscan.core.bench import SYNTAXES
from ownscan.core.bench._import import interleaved, ownscan_import
from ownscan.core.bench._load import (
    SYNTAX_UIDS,
    ToolFailed,
    check_syntax,
    generate,
    timed,
    transcode,
    whole_process,
)
from ownscan.core.bench._suite import import_rows, load_rows


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated CT series, uncompressed (non-square: rows and columns stay apart)."""
    folder = tmp_path_factory.mktemp("series") / "raw"
    generate(folder, 6, 40, 48)
    return folder


@pytest.mark.parametrize("syntax", [s for s in SYNTAXES if s != "uncompressed"])
def test_each_syntax_is_written_by_its_encoder_and_decodes_to_the_same_voxels(
    raw: Path, tmp_path: Path, syntax: str
) -> None:
    dst = tmp_path / syntax
    transcode(raw, dst, syntax)
    assert check_syntax(dst, syntax) == 6
    for f in sorted(dst.iterdir()):
        ds = pydicom.dcmread(f)
        assert ds.file_meta.TransferSyntaxUID == SYNTAX_UIDS[syntax]
        original = pydicom.dcmread(raw / f.name)
        np.testing.assert_array_equal(ds.pixel_array, original.pixel_array)  # lossless
        if syntax == "htj2k":  # a high-throughput codestream: it carries the CAP marker
            (codestream,) = generate_frames(ds.PixelData, number_of_frames=1)
            assert codestream[:2] == b"\xff\x4f" and b"\xff\x50" in codestream[:200]
    ours = assemble(dst).series[0].load().voxels
    np.testing.assert_array_equal(ours, assemble(raw).series[0].load().voxels)
    assert ours.shape == (6, 40, 48)


def test_a_file_in_another_syntax_is_named(raw: Path, tmp_path: Path) -> None:
    dst = tmp_path / "mixed"
    transcode(raw, dst, "rle")
    shutil.copyfile(raw / "IM00003.dcm", dst / "IM00003.dcm")
    with pytest.raises(
        ValueError, match=r"IM00003\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.1,"
    ):
        check_syntax(dst, "rle")


def test_tools_that_cannot_read_a_folder_give_their_reason(tmp_path: Path) -> None:
    """Every whole-process tool on a folder without DICOM: a reason each, no crash."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not DICOM\n")
    work = tmp_path / "work"
    work.mkdir()
    got = whole_process(empty, work, 1)
    assert set(got) == {"ownscan-export", "dcm2niix", "simpleitk"}
    for tool, result in got.items():
        assert isinstance(result, str) and "exit" in result, (tool, result)
    assert "no DICOM series found" in got["simpleitk"]
    assert list(work.iterdir()) == []  # the outputs of failed runs are removed too


def test_load_rows_say_which_tool_cannot_read_which_syntax(raw: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(raw, root / "raw")
    lines: list[str] = []
    rows = load_rows("48x40x6", root, 1, lines.append, ("uncompressed", "jpeg-ls", "htj2k"))
    by = {(r.mode, r.tool): r for r in rows}
    for syntax in ("uncompressed", "jpeg-ls", "htj2k"):
        load = by[(syntax, "ownscan-load")]
        assert load.value and load.value > 0 and load.note == ""  # same voxels as raw
        for tool in ("ownscan-export", "dcm2niix", "simpleitk"):
            r = by[(syntax, tool)]
            assert (r.value is None) == bool(r.note), r  # a value, or the reason
            if r.value is not None:
                assert r.extra["rss_mib"] > 0 and r.extra["cpu_s"] >= 0
        assert by[(syntax, "ownscan-export")].value is not None
    # Debian's dcm2niix has no JPEG-LS decoder: it says so, in its own words
    dcm2niix = by[("jpeg-ls", "dcm2niix")]
    if dcm2niix.value is None:
        assert "1.2.840.10008.1.2.4.80" in dcm2niix.note
    assert sorted(p.name for p in root.iterdir()) == ["raw"]  # transcoded series removed


def test_a_missing_encoder_is_a_row_with_the_reason(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    shutil.copytree(raw, root / "raw")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ToolFailed, match="ojph_compress is not installed"):
        transcode(root / "raw", root / "htj2k", "htj2k")
    rows = load_rows("48x40x6", root, 1, lambda line: None, ("htj2k", "rle"))
    assert [(r.mode, r.tool, r.value) for r in rows] == [
        ("htj2k", "ownscan-load", None),
        ("rle", "ownscan-load", None),
    ]
    assert "apt install openjph-tools" in rows[0].note
    assert "apt install libgdcm-tools" in rows[1].note


def test_import_beside_cp(raw: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    rows = import_rows("48x40x6", "series", raw, tmp_path, 2, lines.append)
    assert [r.tool for r in rows] == ["cp -r", "cp -r + sync", "ownscan-import"]
    for r in rows:
        assert r.part == "import" and r.unit == "ms" and r.value and r.value > 0
        assert r.extra["files"] == 6 and len(r.extra["rounds_ms"]) == 2
        assert r.extra["rss_mib"] > 0
    assert list(tmp_path.iterdir()) == []  # every library and copy removed
    assert lines == [lines[0]] and "import series (6 files)" in lines[0]


def test_an_import_that_misses_instances_is_an_error(raw: Path, tmp_path: Path) -> None:
    """The import contender checks the library it made (untimed): a short import fails."""
    with pytest.raises(RuntimeError, match="6 instances imported, 7 given"):
        interleaved({"x": lambda dest: ownscan_import(raw, dest, 7)}, tmp_path, 1)


def test_the_peak_rss_of_a_program_is_its_own() -> None:
    """Linux carries a vfork parent's peak into its child's ru_maxrss: the bench, holding a
    volume, would report it for ``cp``. The helper process keeps it to the program's own."""
    held = np.ones(300 * 2**20, np.uint8)  # this process: at least 300 MiB
    small = timed(["cp", "--version"])
    assert small.maxrss_mib < 50
    big = timed([sys.executable, "-c", "b = bytearray(200 * 2**20)"])
    assert big.maxrss_mib >= 200
    assert held.sum() == held.size
