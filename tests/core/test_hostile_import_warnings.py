"""A patient sees a lying header when they import, not first when they look: ``import`` keeps
such a file as it is (its bytes are whole) but names it with the reader's own words; ``info``
names a compressed transfer syntax said of plain bytes; and a FIFO, a device or a dangling
link inside an imported folder is named, never opened. Real subprocesses (tests/core/hostile.py)
on variants of the real head MR (tests/core/hostilegen.py)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

from hostile import capped
from hostilegen import make_variants
from test_hostile_sweep import assert_clean

# variant -> words import must say of it (the words info/render/export use)
SAID = {
    "values-rows-0": "image size 274x0 is empty",
    "values-columns-0": "image size 0x384 is empty",
    "values-bits-0": "BitsAllocated 0 is not supported",
    "values-bits-13": "BitsAllocated 13 is not supported",
    "values-bits-64": "BitsAllocated 64 is not supported",
    "values-samples-0": "SamplesPerPixel 0 cannot be true",
    "values-frames-2e31": "Number of Frames 2147483648 is more than",
    "values-jpeg-frames-2e31": "Number of Frames 2147483648 is more than",
    "values-pixels-half": "pixel data has 105216 bytes but",
    "values-pixels-double": "pixel data holds 420864 bytes, 2x what",
    "syntax-jpeg-said-of-native": "stored as plain bytes, not in fragments",
    "syntax-rle-said-of-native": "stored as plain bytes, not in fragments",
}


def _instances(lib: Path) -> int:
    conn = sqlite3.connect(lib / "index.sqlite")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])
    finally:
        conn.close()


def test_import_names_each_lying_header_and_keeps_it(mr_head_dir: Path, tmp_path: Path) -> None:
    slices = sorted(mr_head_dir.glob("*.dcm"))
    make_variants(slices[:60], tmp_path / "v", tmp_path / "work", ["values", "syntax"])
    for f in (tmp_path / "v").iterdir():  # only the variants named above (and a good slice)
        if f.stem not in SAID:
            f.unlink()
    shutil.copy(slices[200], tmp_path / "v" / "good.dcm")
    r = capped("import", "--library", str(tmp_path / "lib"), "v", cwd=tmp_path)
    assert_clean(r)
    assert r.returncode == 0, r.stdout + r.stderr  # stored, not failed
    lines = r.stdout.splitlines()
    for stem, words in SAID.items():
        said = [ln for ln in lines if ln.startswith(f"warning    v/{stem}.dcm: ")]
        assert len(said) == 1 and words in said[0], (stem, said, r.stdout[-3000:])
        assert f"imported   v/{stem}.dcm" in lines, stem  # kept as it is: nothing lost
    assert not any("good.dcm" in ln for ln in lines if ln.startswith("warning"))
    assert f"{len(SAID)} with an image header that is not true" in r.stdout, r.stdout[-500:]
    assert _instances(tmp_path / "lib") == len(SAID) + 1
    # the series warnings do not say again what each file's own line said
    assert "untrue header value" not in r.stderr, r.stderr
    # info says the same of the stored files: the transfer syntax over plain bytes by name
    r = capped("info", "v/syntax-rle-said-of-native.dcm", cwd=tmp_path)
    assert_clean(r)
    assert re.search(
        r"syntax-rle-said-of-native\.dcm\)?: the pixel data is stored as plain bytes.*RLE Lossless",
        r.stdout,
    ), r.stdout


def test_info_names_a_compressed_syntax_said_of_plain_bytes(
    mr_head_dir: Path, tmp_path: Path
) -> None:
    slices = sorted(mr_head_dir.glob("*.dcm"))
    make_variants(slices[:40], tmp_path / "s", tmp_path / "work", ["syntax"])
    r = capped("info", "s", cwd=tmp_path)
    assert_clean(r)
    for name in ("jpeg-said-of-native", "rle-said-of-native"):
        assert re.search(
            rf"syntax-{name}\.dcm\)?: the pixel data is stored as plain bytes, not in fragments",
            r.stdout + r.stderr,
        ), (name, r.stdout[-2000:], r.stderr[-2000:])


def test_fifo_device_and_dangling_link_in_a_folder_are_named(
    mr_head_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "cd"
    folder.mkdir()
    shutil.copy(sorted(mr_head_dir.glob("*.dcm"))[200], folder / "good.dcm")
    os.mkfifo(folder / "fifo.dcm")  # opening it would wait forever
    os.symlink("/dev/zero", folder / "endless.dcm")  # reading it never ends
    os.symlink("nowhere", folder / "dangling.dcm")
    r = capped("import", "--library", str(tmp_path / "lib"), "cd", cwd=tmp_path, timeout=60)
    assert_clean(r)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "skipped    cd/fifo.dcm: not a regular file (a FIFO); not opened" in lines, lines
    assert "skipped    cd/endless.dcm: not a regular file (a device); not opened" in lines, lines
    assert any(
        ln.startswith("skipped    cd/dangling.dcm: a link that leads to no file") for ln in lines
    ), lines
    assert "imported   cd/good.dcm" in lines and "1 imported, 3 skipped" in r.stdout, r.stdout
    assert _instances(tmp_path / "lib") == 1


def test_import_says_the_series_warnings_info_gives(mr_head_dir: Path, tmp_path: Path) -> None:
    # 9 slices missing from the middle of a stack: info warns of the gap; import says it too,
    # once, in the same words, naming the series and its files; importing again says nothing
    slices = sorted(mr_head_dir.glob("*.dcm"))[:60]
    (tmp_path / "gap").mkdir()
    for f in slices[:20] + slices[29:]:
        shutil.copy(f, tmp_path / "gap")
    info = capped("info", "gap", cwd=tmp_path)
    assert_clean(info)
    said = [ln.split("warning: ", 1)[1] for ln in info.stdout.splitlines() if "warning: " in ln]
    assert any(w.startswith("missing slices: about 9 slice(s) absent") for w in said), info.stdout
    lib = str(tmp_path / "lib")
    r = capped("import", "--library", lib, "gap", cwd=tmp_path)
    assert_clean(r)
    assert r.returncode == 0, r.stdout + r.stderr
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("ownscan import: warning: ")]
    assert len(warned) == len(said), (warned, said)
    for w in said:
        assert [ln for ln in warned if ln.endswith(f": {w}")], (w, warned)
    assert all("gap/" in ln and "51 files" in ln for ln in warned), warned
    again = capped("import", "--library", lib, "gap", cwd=tmp_path)
    assert_clean(again)
    assert "warning" not in again.stdout + again.stderr, again.stderr
