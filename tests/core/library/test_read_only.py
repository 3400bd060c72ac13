"""A library that cannot be written (a read-only disc, share or folder) can still be read:
list, info, render and export open the index read-only; writes say "the library is
read-only" (issue 15). The folder is made really read-only: a read-only bind mount when run
as root (permissions do not stop root), else the permissions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from library_dicomgen import ct_series

from ownscan.core.cli import main


@contextmanager
def read_only_view(lib: Path, target: Path) -> Iterator[Path]:
    """``lib`` seen read-only at ``target``: a read-only bind mount when run as root (who
    may write anything a mode forbids), else a copy without write permissions."""
    target.mkdir()
    if os.geteuid() == 0:
        if shutil.which("mount") is None:
            pytest.fail("mount(8) is needed to make a folder read-only for root")
        bind = subprocess.run(["mount", "--bind", str(lib), str(target)], capture_output=True)
        if bind.returncode != 0:
            pytest.skip(f"cannot bind-mount here (no CAP_SYS_ADMIN): {bind.stderr.decode()}")
        try:
            subprocess.run(
                ["mount", "-o", "remount,ro,bind", str(target)], check=True, capture_output=True
            )
            yield target
        finally:
            subprocess.run(["umount", str(target)], check=True)
    else:
        target.rmdir()
        shutil.copytree(lib, target)
        for p in [target, *target.rglob("*")]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        yield target
        for p in [target, *target.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


@pytest.fixture
def read_only_library(tmp_path):
    ct_series(tmp_path / "src", 3, patient=("Citizen^Jan", "P1"))
    lib = tmp_path / "lib"
    assert main(["import", str(tmp_path / "src"), "--library", str(lib)]) == 0
    with read_only_view(lib, tmp_path / "ro") as target:
        yield target


def test_read_only_library_is_listed_shown_and_exported(read_only_library, tmp_path, capsys):
    lib = str(read_only_library)
    before = sorted(p.name for p in Path(lib).iterdir())
    capsys.readouterr()
    assert main(["list", "--library", lib]) == 0
    assert "Jan Citizen (P1)" in capsys.readouterr().out
    assert main(["list", "--json", "--library", lib]) == 0
    uid = json.loads(capsys.readouterr().out)["patients"][0]["studies"][0]["series"][0]
    source = f"library:{uid['series_uid']}"
    assert main(["info", source, "--library", lib]) == 0
    assert "CT volume 16x16x3" in capsys.readouterr().out
    png = tmp_path / "x.png"
    args = ["render", source, "--library", lib, "--mode", "mpr", "--size", "16x16", "-o", str(png)]
    assert main(args) == 0 and png.exists()
    out = tmp_path / "out"
    assert main(["export", source, "--library", lib, "-o", str(out)]) == 0
    assert list(out.iterdir())
    assert sorted(p.name for p in Path(lib).iterdir()) == before  # nothing written


@pytest.mark.parametrize("command", [["remove", "series", "1.2.3"], ["import", "SRC"]])
def test_writing_to_a_read_only_library_says_so(read_only_library, tmp_path, capsys, command):
    command = [str(tmp_path / "src") if c == "SRC" else c for c in command]
    assert main([*command, "--library", str(read_only_library)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"ownscan {command[0]}: error: {read_only_library}: the library is read-only"
    )
    assert "check --repair" not in err and err.count("\n") == 1
