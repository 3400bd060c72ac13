"""DICOMweb against a server that misbehaves (issue #16): malformed JSON, wrong shapes,
repeated and endless answers, a body dripped byte by byte, HTTP 500/503 with Retry-After.
Every case ends with one clear line (or a warning and the right result), in bounded time and
memory; the server is tests/plugins/dicomweb/misbehaving_server.py on 127.0.0.1."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dicomweb_server import write_ct_series
from misbehaving_server import misbehaving
from pydicom.uid import generate_uid

from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.dicomweb import DicomwebImporter, connect

EXE = str(Path(sys.executable).with_name("ownscan"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("mis") / "ct", 3, study=generate_uid())


def _import(url: str, **extra: Any) -> list[bytes]:
    items = DicomwebImporter().iter_items(url, ImportOptions(extra={**extra}))
    return [it.data for it in items if it.data is not None]


def test_the_server_itself_works(files: list[Path]) -> None:
    with misbehaving(files) as srv:
        got = _import(srv.url)
    assert sorted(got) == sorted(f.read_bytes() for f in files)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("malformed", "the answer is not JSON"),
        ("object", "the answer is a JSON object, not a list of DICOM JSON results"),
        ("strings", "the answer is not DICOM JSON"),
    ],
)
@pytest.mark.parametrize("level", ["studies", "series", "instances"])
def test_wrong_json_is_one_line(files: list[Path], fault: str, says: str, level: str) -> None:
    with misbehaving(files, **{level: fault}) as srv, pytest.raises(Exception) as err:
        _import(srv.url)
    assert says in str(err.value), err.value
    assert type(err.value).__name__ in ("DicomwebError", "RequestFailed"), err.value


def test_search_of_an_object_exits_2_in_one_line(files: list[Path]) -> None:
    with misbehaving(files, studies="object") as srv:
        r = subprocess.run(
            [EXE, "search", srv.url], capture_output=True, text=True, timeout=60, check=False
        )
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "a JSON object" in r.stderr, r.stderr


@pytest.mark.parametrize("level", ["studies", "instances"])
def test_repeated_results_are_deduplicated_and_paging_stops(
    files: list[Path], level: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the server returns a full page of the same results whatever the offset: 1000 copies
    with misbehaving(files, **{level: "repeat"}) as srv:
        with connect(srv.url) as conn:
            path = (
                "studies"
                if level == "studies"
                else f"studies/{srv.study}/series/{srv.series}/instances"
            )
            got = conn.qido(path)
        assert srv.count(level) == 2  # the first page, then one of repeats only: stop
    assert len(got) == (1 if level == "studies" else 3)
    assert "listed" in caplog.text and "twice" in caplog.text


def test_endless_qido_answer_is_capped(files: list[Path]) -> None:
    with misbehaving(files, studies="endless") as srv, pytest.raises(Exception) as err:
        _import(srv.url, max_answer_bytes="1000000")
    assert "the answer is larger than 1,000,000 bytes" in str(err.value)


def test_endless_instance_is_capped(files: list[Path]) -> None:
    with misbehaving(files, instance="endless") as srv:
        r = _cli_import(srv.url, "--option", "max_instance_bytes=3000000")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the answer is larger than 3,000,000 bytes" in r.stdout + r.stderr


def test_declared_huge_instance_refused_before_reading(files: list[Path]) -> None:
    with misbehaving(files, instance="huge-declared") as srv:
        r = _cli_import(srv.url, "--option", "max_instance_bytes=1000000")
    assert r.returncode == 1
    assert "the answer is larger than 1,000,000 bytes (5,368,709,120" in r.stdout + r.stderr


@pytest.mark.parametrize("level", ["studies", "instance"])
def test_drip_is_cut_by_the_slow_transfer_floor(files: list[Path], level: str) -> None:
    # one byte every 0.05 s: 20 bytes/s, far below the floor once `timeout` (1 s) has passed
    with misbehaving(files, **{level: "drip"}) as srv:
        r = _cli_import(srv.url, "--option", "timeout=1", "--option", "min_rate=1000")
    out = r.stdout + r.stderr
    assert r.returncode in (1, 2), out
    assert "the server sends too slowly" in out and "below 1000" in out, out


def test_drip_is_cut_by_the_deadline(files: list[Path]) -> None:
    # with no floor, the overall deadline ends the request
    with misbehaving(files, instance="drip") as srv:
        r = _cli_import(srv.url, "--option", "min_rate=0.001", "--option", "deadline=2")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "no complete answer within the deadline of 2 s" in out, out


def test_503_with_retry_after_is_waited_for(files: list[Path]) -> None:
    with misbehaving(files, studies="503", fail_first="2") as srv:
        got = _import(srv.url)
        asked = [r.at for r in srv.seen if r.kind == "studies"]
    assert len(got) == 3
    assert len(asked) == 3  # two refusals, then the answer
    # Retry-After: 1 was honoured (a lower bound: a slow machine only makes the gap longer)
    assert asked[1] - asked[0] >= 0.95 and asked[2] - asked[1] >= 0.95


def test_500_for_good_is_one_line(files: list[Path]) -> None:
    with misbehaving(files, instances="500") as srv:
        r = _cli_import(srv.url)
    assert r.returncode == 1, r.stderr
    assert "HTTP 500" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def _cli_import(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ownscan import URL`` into a fresh library, under a memory cap and a time bound."""
    lib = Path(os.environ.get("TMPDIR", "/tmp")) / f"ownscan-mis-{os.getpid()}-{id(args)}"

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))

    try:
        return subprocess.run(
            [EXE, "import", "--library", str(lib), url, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=cap,
        )
    finally:
        subprocess.run(["rm", "-rf", str(lib)], check=False)
