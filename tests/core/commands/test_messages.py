"""One-line messages a patient understands (issue 15): missing paths, empty folders, a closed
pipe."""

from __future__ import annotations

import subprocess
import sys

from ownscan.core.cli import main


def test_missing_path_says_so_first(tmp_path, capsys):
    for command in (["info"], ["render", "-o", str(tmp_path / "x.png")]):
        assert main([*command, str(tmp_path / "typo")]) == 2
        err = capsys.readouterr().err
        assert err == f"ownscan {command[0]}: error: no such file or folder: {tmp_path / 'typo'}\n"


def test_empty_folder_is_an_error_like_the_other_commands(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["info"], ["render", "-o", str(tmp_path / "x.png")]):
        assert main([*command, str(empty)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"ownscan {command[0]}: error: {empty}: no DICOM image series found\n"


def test_a_closed_pipe_ends_quietly(pydicom_files):
    """`ownscan info FOLDER | head -0`: the reader is gone before the output is written."""
    folder = pydicom_files["RG1_UNCR.dcm"].parent
    cmd = [sys.executable, "-m", "ownscan.core.cli", "info", "--json", str(folder)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `head` does once it has its lines
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Broken pipe" not in err and "BrokenPipeError" not in err and "Traceback" not in err
