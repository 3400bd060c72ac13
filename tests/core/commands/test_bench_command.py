"""``ownscan bench``: the suite's JSON / Markdown shape on tiny volumes (no timed assertions),
a size that does not fit, the ratio against the best peer."""

from __future__ import annotations

import importlib.util
import json
import shutil
from statistics import median

import pytest

from ownscan.core.bench import QUICK_SYNTAXES, Row, fits_memory, with_ratios
from ownscan.core.cli import main

FIELDS = {"part", "volume", "image", "mode", "tool", "value", "unit", "ratio", "extra", "note"}


def test_quick_bench_writes_json_markdown_and_plots(tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["bench", "--quick", "--sizes", "32x32x16,48x40x24", "--images", "48x40"]
    assert main([*argv, "--modes", "mip,dvr", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"wrote {out / 'bench.json'}" in said and f"wrote {out / 'bench.md'}" in said
    doc = json.loads((out / "bench.json").read_text())
    assert doc["settings"]["sizes"] == ["32x32x16", "48x40x24"]
    assert doc["settings"]["syntaxes"] == list(QUICK_SYNTAXES)
    assert doc["settings"]["import_files"] == 0
    assert "gl" in doc["machine"] and doc["machine"]["cpus"] >= 1
    rows = doc["rows"]
    assert rows and all(set(r) == FIELDS for r in rows)
    got = {(r["part"], r["volume"], r["mode"], r["tool"]) for r in rows}
    for volume in ("32x32x16", "48x40x24"):
        for mode in ("mip", "dvr"):
            assert ("render", volume, mode, "ownscan-gl") in got
            assert ("render", volume, mode, "ownscan-array") in got
            assert ("first-frame", volume, mode, "ownscan-gl") in got
            assert ("first-picture", volume, mode, "ownscan-gl") in got  # the quick pass
            assert ("first-frame-only", volume, mode, "ownscan-gl") in got  # no quick pass
            assert ("first-frame-after-load", volume, mode, "ownscan-gl") in got  # from files
            assert ("memory", volume, mode, "ownscan-gl") in got
            assert ("memory", volume, mode, "ownscan-array") in got
        assert ("memory", volume, "view", "ownscan-view") in got  # Xvfb when no display
    for r in rows:
        if r["value"] is None:  # only a peer that cannot read a syntax, with the reason
            assert r["part"] == "load" and r["tool"] == "dcm2niix" and r["note"], r
            continue
        assert r["value"] > 0, r
        assert r["unit"] == ("MiB" if r["part"] == "memory" else "ms")
        if r["part"] == "render" and r["image"] != "48x40":
            pytest.fail(f"image size not kept: {r}")
        if r["part"] == "memory":
            # the peak includes the volume itself
            assert r["extra"]["x_volume"] >= 1 and r["value"] >= r["extra"]["base_mib"]
        if r["part"].startswith("first-"):  # the median of --repeat runs, each kept
            runs = r["extra"]["runs_ms"]
            assert len(runs) == doc["settings"]["repeat"] and r["value"] == median(runs), r
        if r["part"] in ("load", "import") and r["image"] == "process":
            assert r["extra"]["rss_mib"] > 0, r  # whole processes: their own peak RSS
    sitk = importlib.util.find_spec("SimpleITK") is not None
    assert not any("VOXELS DIFFER" in r["note"] for r in rows), rows
    volume = "32x32x16"  # --quick: the load and import parts on the smallest volume only
    for syntax in QUICK_SYNTAXES:  # the quick suite's syntaxes, by their real encoders
        assert ("load", volume, syntax, "ownscan-load") in got
        assert ("load", volume, syntax, "ownscan-export") in got
        assert (("load", volume, syntax, "dcm2niix") in got) == bool(shutil.which("dcm2niix"))
        assert (("load", volume, syntax, "simpleitk") in got) == sitk
    for tool in ("cp -r", "cp -r + sync", "ownscan-import"):
        assert ("import", volume, "series", tool) in got
    assert not any(r["part"] in ("load", "import") and r["volume"] != volume for r in rows)
    for volume in ("32x32x16", "48x40x24"):
        for kind in ("fresh", "prepared"):
            assert ("upload", volume, kind, "ownscan-gl") in got
    export = [r for r in rows if r["tool"] == "ownscan-export"]
    peers = bool(shutil.which("dcm2niix")) or sitk
    assert all((r["ratio"] is not None) == peers for r in export)
    assert all(r["ratio"] is None for r in rows if r["tool"] == "ownscan-load")
    assert all(r["ratio"] is not None for r in rows if r["tool"] == "ownscan-import")
    vtk = importlib.util.find_spec("vtk") is not None
    own = [r for r in rows if r["part"] == "render" and r["tool"].startswith("ownscan")]
    # a ratio needs a peer in the same run: VTK's mappers (every mode) or vispy (MIP only)
    vispy = {
        (r["volume"], r["mode"]) for r in rows if r["part"] == "render" and r["tool"] == "vispy"
    }
    for r in own:
        if r["mode"] != "mpr":
            assert (r["ratio"] is not None) == (vtk or (r["volume"], r["mode"]) in vispy), r
    table = (out / "bench.md").read_text().splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("| part |"))
    assert len(table) - header - 2 == len(rows)  # header, rule, one line per row
    plots = {p.name for p in out.glob("*.png")}
    if importlib.util.find_spec("matplotlib") is not None:
        assert plots == {"bench-render.png", "bench-memory.png"}
    else:
        assert plots == set()


def test_a_size_that_does_not_fit_is_skipped_with_a_note(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["bench", "--sizes", "60000x60000x60000", "--parts", "render,memory"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = json.loads((out / "bench.json").read_text())["rows"]
    assert [r["part"] for r in rows] == ["render", "memory"]  # no load: it would not fit
    assert all(r["value"] is None and r["note"].startswith("skipped: needs about") for r in rows)
    assert "skipped: needs about" in (out / "bench.md").read_text()


def test_fits_memory_compares_with_what_is_available():
    assert fits_memory("512x512x2000", available=64 << 30) == ""
    why = fits_memory("512x512x2000", available=4 << 30)
    assert why == "skipped: needs about 8.8 GiB, 4.0 GiB available"


def test_ratio_is_the_best_peer_over_the_row():
    rows = with_ratios(
        [
            Row("render", "v", "8x8", "mip", "ownscan-gl", 50.0, "ms"),
            Row("render", "v", "8x8", "mip", "vtk-gpu", 200.0, "ms"),
            Row("render", "v", "8x8", "mip", "vtk-cpu", 100.0, "ms"),
            Row("render", "v", "8x8", "dvr", "ownscan-gl", 10.0, "ms"),  # no peer
        ]
    )
    assert [r.ratio for r in rows] == [2.0, 0.5, 1.0, None]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "512x512"], "--sizes must be NXxNYxNZ"),
        (["--images", "big"], "image sizes must be WxH"),
        (["--modes", "mip,glow"], "unknown mode 'glow'"),
        (["--parts", "speed"], "unknown part 'speed'"),
        (["--syntaxes", "raw,jpeg-xl"], "unknown transfer syntax 'raw'"),
        (["--import-files", "-1"], "--import-files must be 0 or more"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, argv, message):
    assert main(["bench", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ownscan bench: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
