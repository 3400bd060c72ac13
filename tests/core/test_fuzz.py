"""Property-based fuzzing (hypothesis) of the readers that meet hostile bytes first: the header
scanner and frame records, the library's header, the zip reader, the multipart splitter and the
QIDO-RS answer parser (issue #16).

Each target takes a real, valid input and damages it (bytes flipped, cut, inserted, lengths
set to extremes). The property: the reader returns, or raises one of the errors it documents;
any other exception is a bug (an exit 70 on the command line). The budget is small in CI
(``OWNSCAN_FUZZ_EXAMPLES``, default 60 per target, derandomised so a failure reproduces);
by hand: ``OWNSCAN_FUZZ_EXAMPLES=20000 OWNSCAN_FUZZ_RANDOM=1 pytest tests/core/test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from ctgen import write_ct_series
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ownscan.core.dicom import (
    Declined,
    NotDicom,
    ReadProblem,
    check_complete,
    read_frames,
    scan_or_reason,
)
from ownscan.core.errors import ImportFailed, OwnscanError
from ownscan.core.plugin_types import ImportOptions, SourceItem

EXAMPLES = int(os.environ.get("OWNSCAN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("OWNSCAN_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
_SEEDS: dict[str, bytes] = {}


def _seed(name: str) -> bytes:
    """Real inputs to damage, made once: a native CT slice, a JPEG 2000 one, a zip of both."""
    if not _SEEDS:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="ownscan-fuzz-"))
        native = write_ct_series(folder / "ct", n_slices=2, rows=16, cols=16)
        j2k = folder / "j2k.dcm"
        subprocess.run(["gdcmconv", "--j2k", str(native[0]), str(j2k)], check=True)
        _SEEDS["native"] = native[0].read_bytes()
        _SEEDS["j2k"] = j2k.read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("A/IM1.dcm", _SEEDS["native"])
            zf.writestr("A/IM2.dcm", _SEEDS["j2k"])
            zf.writestr("report.pdf", b"%PDF-1.4\n%%EOF\n")
        _SEEDS["zip"] = buf.getvalue()
    return _SEEDS[name]


@st.composite
def damaged(draw: st.DrawFn, name: str) -> bytes:
    """``name``'s seed with 1-4 damages: a byte set, a cut, an insertion, a 32-bit length or
    count set to an extreme value at an element boundary-ish offset."""
    data = bytearray(_seed(name))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["byte", "cut", "insert", "u32", "u16"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if not data:
            break
        if kind == "byte":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "u32" and at + 4 <= len(data):
            value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF, 0x10000]))
            struct.pack_into("<L", data, at, value)
        elif kind == "u16" and at + 2 <= len(data):
            struct.pack_into("<H", data, at, draw(st.sampled_from([0, 1, 0xFFFF, 0x8000])))
    return bytes(data)


@pytest.mark.parametrize("seed", ["native", "j2k"])
def test_fuzz_header_scanner_and_frames(seed: str) -> None:
    @FUZZ
    @given(data=damaged(seed))
    def run(data: bytes) -> None:
        sc = scan_or_reason(data)
        if not isinstance(sc, str):
            with contextlib.suppress(Declined):  # Truncated is a Declined
                check_complete(data, sc)
        try:
            frames = read_frames(SourceItem(origin="fuzz", data=data))
        except (NotDicom, ReadProblem):
            return
        # what was accepted is bounded by what the file holds
        assert len(frames) <= max(1, len(data) // 8)
        assert all(fr.rows * fr.columns >= 1 for fr in frames)

    run()


def test_fuzz_library_header(tmp_path: Path) -> None:
    from ownscan.core.library import open_library

    lib = open_library(tmp_path / "lib")

    @FUZZ
    @given(data=damaged("native"))
    def run(data: bytes) -> None:
        rep = lib.import_items([SourceItem(origin="fuzz", data=data)], sources=["fuzz"])
        assert rep.results[0].status in ("imported", "duplicate", "conflict", "skipped", "failed")

    try:
        run()
        assert lib.check().consistent
    finally:
        lib.close()


def test_fuzz_zip_reader(tmp_path: Path) -> None:
    from ownscan.plugins.portal_zip import PortalZipImporter

    path = tmp_path / "fuzz.zip"

    @FUZZ
    @given(data=damaged("zip"))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        try:
            items = list(PortalZipImporter().iter_items(str(path), ImportOptions()))
        except ImportFailed:
            return
        total = sum(len(i.data or b"") for i in items)
        assert total <= 4 * len(_seed("zip")) + (1 << 20)  # nothing inflated beyond the members

    run()


def test_fuzz_multipart_and_qido() -> None:
    from ownscan.plugins._dicomweb import MultipartError, _Failed, parse_qido, split_multipart

    ctype = 'multipart/related; type="application/dicom"; boundary=b0'
    body = b"--b0\r\nContent-Type: application/dicom\r\n\r\nDICOMBYTES\r\n--b0--\r\n"
    qido = b'[{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}]'

    @FUZZ
    @given(
        cut=st.integers(0, len(body)),
        noise=st.binary(max_size=40),
        at=st.integers(0, len(body)),
        q=st.one_of(st.binary(max_size=200), st.just(qido), st.text(max_size=80).map(str.encode)),
    )
    def run(cut: int, noise: bytes, at: int, q: bytes) -> None:
        mangled = (body[:at] + noise + body[at:])[: cut + len(noise)]
        with contextlib.suppress(MultipartError):
            split_multipart(ctype, mangled, "fuzz")
        with contextlib.suppress(_Failed):
            assert isinstance(parse_qido(q), list)

    run()


def test_errors_are_ownscan_errors() -> None:
    # what the properties above accept are the documented, one-line errors
    assert issubclass(NotDicom, OwnscanError) and issubclass(ReadProblem, OwnscanError)
