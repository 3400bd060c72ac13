"""Fuzzing (hypothesis) of the ISO reading, strict and recovering (issue #16): a real image made
by genisoimage (Rock Ridge + Joliet) from a small disc, damaged in its descriptors, path tables
and folders (bytes set, runs of bytes set, 32-bit fields set to extremes). The property: the
disc importer yields items or raises :class:`ImportFailed`; every recovered file lies inside
the image; any other exception is a bug. Budget: ``OWNSCAN_FUZZ_EXAMPLES`` (default 60, as
tests/core/test_fuzz.py, whose settings these are)."""

from __future__ import annotations

import io
import struct
import subprocess
import tempfile
from pathlib import Path

import pydicom
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz import FUZZ

from ownscan.core.errors import ImportFailed
from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins._iso import recover
from ownscan.plugins.disc import DiscImporter

_IMAGE: list[bytes] = []


def _image() -> bytes:
    """A small disc as an ISO image: three folders of pydicom's real CT file, made once."""
    if not _IMAGE:
        from pydicom.data import get_testdata_file

        ct = Path(str(get_testdata_file("CT_small.dcm")))
        root = Path(tempfile.mkdtemp(prefix="ownscan-isofuzz-"))
        for k in range(3):
            folder = root / "disc" / "DICOM" / f"SE{k:06d}"
            folder.mkdir(parents=True)
            for n in range(4):
                ds = pydicom.dcmread(ct)
                ds.InstanceNumber = n
                ds.save_as(folder / f"IM{n:06d}")
        iso = root / "disc.iso"
        subprocess.run(
            ["genisoimage", "-quiet", "-R", "-J", "-o", str(iso), str(root / "disc")], check=True
        )
        _IMAGE.append(iso.read_bytes())
    return _IMAGE[0]


_META = (16 * 2048, 40 * 2048)  # descriptors, path tables and folders of this small image


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(_image())
    for _ in range(draw(st.integers(1, 12))):
        at = draw(st.integers(*_META))
        kind = draw(st.sampled_from(["byte", "run", "u32"]))
        if kind == "byte":
            data[at] = draw(st.integers(0, 255))
        elif kind == "run":
            n = draw(st.integers(1, 64))
            data[at : at + n] = bytes([draw(st.integers(0, 255))]) * n
        else:
            value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, len(data) // 2048]))
            struct.pack_into("<I", data, at, value)
    return bytes(data)


@FUZZ
@given(damaged())
def test_damaged_images_are_read_or_refused_in_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        iso = Path(tmp) / "fuzz.iso"
        iso.write_bytes(data)
        try:
            items = list(DiscImporter().iter_items(str(iso), ImportOptions()))
        except ImportFailed:
            return
    for item in items:
        assert item.problem is not None or item.data is not None
    found = recover(io.BytesIO(data), len(data))
    if found is not None:
        for f in found.files:
            assert f.extent > 16 and f.extent * found.block + f.size <= len(data)
