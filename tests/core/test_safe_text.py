"""Text from files reaches the terminal escaped; nothing secret from a URL is stored or printed
(issue #16): ``ownscan.core.text`` and every printer that uses it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ctgen import write_ct_series
from pydicom import dcmread

from ownscan.core.library import open_library
from ownscan.core.plugin_types import SourceItem
from ownscan.core.text import escape_controls, redact_url

EXE = str(Path(sys.executable).with_name("ownscan"))
HOSTILE = "Doe\x1b[2J\x1b]0;owned\x07^Jo\rhn\nFAKE LINE\u202eevil\x9b"
RAW = ("\x1b", "\x07", "\r", "\u202e", "\x9b")


def test_escape_controls() -> None:
    assert escape_controls(HOSTILE) == (
        "Doe\\x1b[2J\\x1b]0;owned\\x07^Jo\\rhn\\nFAKE LINE\\u202eevil\\x9b"
    )
    for plain in ("Müller^Jörg", "李^雷", "a\\b", "Ωμέγα 3 mm", ""):
        assert escape_controls(plain) is plain  # unchanged, not even copied


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("http://alice:pw@h:8042/dicom-web", "http://REDACTED@h:8042/dicom-web"),
        ("https://h/x?access_token=abc&limit=3", "https://h/x?access_token=REDACTED&limit=3"),
        (
            "https://b.s3/o?X-Amz-Signature=f00&X-Amz-Credential=k&x=1",
            "https://b.s3/o?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&x=1",
        ),
        ("https://h/cb#access_token=zz", "https://h/cb#REDACTED"),
        ("see http://u:p@a/ and http://b/", "see http://REDACTED@a/ and http://b/"),
        ("/home/me/scan.zip!A/IM1", "/home/me/scan.zip!A/IM1"),
        ("https://h/studies/1.2/series/3.4", "https://h/studies/1.2/series/3.4"),
    ],
)
def test_redact_url(url: str, safe: str) -> None:
    assert redact_url(url) == safe


def test_library_records_no_secret(tmp_path: Path) -> None:
    f = write_ct_series(tmp_path / "in", n_slices=1)[0]
    source = "https://alice:S3cr3tPw@pacs.example/dicom-web?access_token=T0k3nValue"
    origin = "https://alice:S3cr3tPw@pacs.example/o/1?sig=T0k3nValue"
    seen: list[str] = []
    with open_library(tmp_path / "lib") as lib:
        rep = lib.import_items(
            [SourceItem(origin=origin, data=f.read_bytes())],
            report=lambda r: seen.append(r.origin),
            sources=[source],
        )
        assert rep.results[0].status == "imported"
    assert seen == ["https://REDACTED@pacs.example/o/1?sig=REDACTED"]
    with sqlite3.connect(tmp_path / "lib" / "index.sqlite") as db:
        (sources,) = db.execute("SELECT sources FROM imports").fetchone()
        dump = "\n".join(db.iterdump())
    assert json.loads(sources) == ["https://REDACTED@pacs.example/dicom-web?access_token=REDACTED"]
    for secret in ("S3cr3tPw", "T0k3nValue"):
        assert secret not in dump
        for p in (tmp_path / "lib").rglob("*"):  # WAL and journal files included
            if p.is_file() and p.suffix != ".dcm" and "objects" not in p.parts:
                assert secret.encode() not in p.read_bytes(), p


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, check=False, env={**os.environ}
    )


def test_control_characters_are_escaped_everywhere(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "in", n_slices=3)
    for f in files:
        ds = dcmread(f)
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientName = HOSTILE
        ds.StudyDescription = "study\x1b[31mRED"
        ds.SeriesDescription = "series\rover"
        ds.save_as(f)
    # a file name with an escape sequence, and an unreadable one to be reported
    bad = tmp_path / "in" / "x\x1b[2Jy.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 64)
    lib = str(tmp_path / "lib")
    outs = [
        _run("info", str(tmp_path / "in")),
        _run("import", "--library", lib, "--verbose", str(tmp_path / "in")),
        _run("list", "--library", lib),
        _run("export", str(tmp_path / "in"), "-o", str(tmp_path / "out")),
    ]
    for r in outs:
        text = r.stdout + r.stderr
        assert "internal error" not in text, text
        for ch in RAW:
            assert ch not in text, (r.args, ch, text)
    info, imp, lst, _ = outs
    # the name as people write it (given names first; CR and LF in it are plain spaces there),
    # every other control character shown escaped
    assert "Patient Jo hn FAKE LINE\\u202eevil\\x9b Doe\\x1b[2J\\x1b]0;owned\\x07" in info.stdout
    assert "study\\x1b[31mRED" in info.stdout and "series\\rover" in info.stdout
    assert "x\\x1b[2Jy.dcm" in info.stderr
    assert "x\\x1b[2Jy.dcm" in imp.stdout + imp.stderr
    assert "Doe\\x1b[2J" in lst.stdout
    # one row per series: the LF in the name did not forge a line
    assert sum("FAKE LINE" in ln for ln in info.stdout.splitlines()) == 1


def test_credentials_in_an_error_line_are_redacted(tmp_path: Path) -> None:
    r = _run("info", "http://alice:S3cr3tPw@127.0.0.1:9/dicom-web?access_token=T0k3nValue")
    assert r.returncode != 0
    assert "S3cr3tPw" not in r.stderr and "T0k3nValue" not in r.stderr, r.stderr
