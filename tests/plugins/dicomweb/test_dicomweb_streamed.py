"""DICOMweb instances go to the library's files as they arrive, not to memory (issue #16).

The misbehaving server (misbehaving_server.py, on 127.0.0.1) makes parts of any size on the
fly; ``ownscan import`` runs in a subprocess under an address-space cap, and its peak
resident memory is read back from the kernel (``ru_maxrss`` of the waited child).
"""

from __future__ import annotations

import hashlib
import io
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from dicomweb_server import write_ct_series
from misbehaving_server import BOUNDARY, misbehaving
from pydicom.uid import generate_uid

from ownscan.core.library import open_library
from ownscan.plugins._dicomweb import MultipartError, MultipartReader
from ownscan.plugins.dicomweb import connect

EXE = str(Path(sys.executable).with_name("ownscan"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("streamed") / "ct", 3, study=generate_uid())


def _import_capped(lib: Path, url: str, *args: str, cap: int) -> tuple[int, str, int]:
    """``ownscan import URL`` under an address-space cap: exit status, output, peak RSS
    (bytes) of the import process."""
    code = (
        "import resource, subprocess, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(r.returncode, peak)\n"
        "print(r.stdout + r.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, EXE, "import", "--library", str(lib), url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    first, _, out = r.stdout.partition("\n")
    rc, peak = (int(x) for x in first.split())
    return rc, out, peak


def test_instances_are_written_to_the_library_as_they_arrive(
    files: list[Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    with misbehaving(files) as srv:
        rc, out, _ = _import_capped(lib, srv.url, cap=1536 << 20)
    assert rc == 0, out
    held = open_library(lib)
    try:
        for f in files:  # byte for byte, whatever way they travelled
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            assert held.store.object_path(sha).read_bytes() == f.read_bytes()
    finally:
        held.close()
    assert list((lib / "tmp").iterdir()) == []  # every download removed once read


def test_a_gigabyte_part_is_refused_in_bounded_memory(files: list[Path], tmp_path: Path) -> None:
    # one part of 1 GB made on the fly; the cap is 400 MB: refused once 400 MB have arrived,
    # which went to a nameless file in the library, never to memory
    lib = tmp_path / "lib"
    with misbehaving(files, instance=f"huge-part-{10**9}") as srv:
        rc, out, peak = _import_capped(
            lib, srv.url, "--option", "max_instance_bytes=400000000", cap=1536 << 20
        )
    assert rc == 1, out
    assert "the answer is larger than 400,000,000 bytes" in out, out
    assert "MemoryError" not in out and "internal error" not in out, out
    # what stays in memory is the program and one read, not the 400 MB that arrived
    assert peak < 250 << 20, f"peak RSS {peak >> 20} MiB"
    assert list((lib / "tmp").iterdir()) == []  # the refused part's file is gone
    assert list((lib / "objects").rglob("*")) == []


def test_a_large_part_under_the_cap_is_imported_in_bounded_memory(
    files: list[Path], tmp_path: Path
) -> None:
    # 300 MB parts (the file, then zeros) are accepted: they travel to the library's files;
    # the library then reads each once (its bytes, hashed and stored), not the answer too
    lib = tmp_path / "lib"
    size = 300 * 10**6
    with misbehaving(files[:1], instance=f"huge-part-{size}") as srv:
        rc, out, peak = _import_capped(lib, srv.url, "--option", "parallel=1", cap=1536 << 20)
    assert rc in (0, 1), out
    assert "internal error" not in out and "MemoryError" not in out, out
    # one copy of the instance (the library's read), not the response and the part as well
    assert peak < size + (250 << 20), f"peak RSS {peak >> 20} MiB"
    assert list((lib / "tmp").iterdir()) == []


def _full_disk() -> None:
    """A full disk as the import sees it: writes past 400 kB fail (EFBIG), no SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))


def test_a_full_disk_stops_the_import_in_one_line(files: list[Path], tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    with misbehaving(files, instance="huge-part-2000000") as srv:
        r = subprocess.run(
            [EXE, "import", "--library", str(lib), srv.url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=_full_disk,
        )
    out = r.stdout + r.stderr
    assert r.returncode in (1, 2), out
    assert "internal error" not in out and "Traceback" not in out, out
    assert "cannot write the download to the library (File too large); free some space" in out
    assert "Run the same import again" in out
    assert list((lib / "tmp").iterdir()) == []


@pytest.mark.parametrize("piece", [1, 7, 1000, 1 << 16])
def test_reader_splits_the_same_whatever_the_pieces(piece: int, files: list[Path]) -> None:
    data = files[0].read_bytes()
    body = (
        b"preamble\r\n"
        + f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\nepilogue".encode()
    )
    ctype = f'multipart/related; type="application/dicom"; boundary="{BOUNDARY}"'
    out = io.BytesIO()
    reader = MultipartReader(ctype, out.write)
    for at in range(0, len(body), piece):
        reader.feed(body[at : at + piece])
    reader.finish()
    assert out.getvalue() == data
    # cut before the closing boundary: retryable, never a shorter file
    cut = MultipartReader(ctype, io.BytesIO().write)
    for at in range(0, len(body) - 12, piece):
        cut.feed(body[at : min(at + piece, len(body) - 12)])
    with pytest.raises(MultipartError) as err:
        cut.finish()
    assert err.value.retryable


def test_no_boundary_ever_is_refused_early(files: list[Path], tmp_path: Path) -> None:
    with (
        misbehaving(files, instance="garbage") as srv,
        connect(srv.url) as conn,
        pytest.raises(Exception, match="multipart response without its boundary"),
    ):
        conn.retrieve_instance_to(srv.study, srv.series, next(iter(srv.by_sop)), tmp_path)
    assert os.listdir(tmp_path) == []  # the file of the refused answer is gone


def test_retrieved_file_is_the_instance(files: list[Path], tmp_path: Path) -> None:
    with misbehaving(files) as srv, connect(srv.url) as conn:
        sop = next(iter(srv.by_sop))
        path = conn.retrieve_instance_to(srv.study, srv.series, sop, tmp_path)
    assert path.parent == tmp_path and path.name.startswith(".")
    assert path.read_bytes() == srv.by_sop[sop][0].read_bytes()
