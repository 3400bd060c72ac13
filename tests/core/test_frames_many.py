"""Files of very many frames: a hostile enhanced file of a million 1x1 frames (9 MB) held
``ownscan info`` past 5 minutes and 1.5 GiB (pydicom's datasets of the per-frame functional
groups and one frame record a frame, about 3 KB each, all made before any pixel is read).

Beyond ``FREE_FRAMES`` (10,000) frames, a file is now read only when each frame holds at least
``RECORD_BYTES`` (4 KiB) of decoded pixels, and, for compressed or deflated data, the file at
least a quarter of that a frame (``_frames._check_records``): the refusal names the file and
comes before the per-frame groups are parsed. Real files of many frames (a 4D MR of 128x128
frames, a CT of 512x512 slices) are far above both, and are read as before.

The files are written byte by byte (explicit VR little endian): pydicom would take minutes to
write a million items. The CLI runs in a subprocess under the hostile-input memory cap and a
time bound (tests/core/hostile.py); the old code ran past that bound, which fails the test.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hostile import assert_handled, capped

from ownscan.core.assembly import assemble
from ownscan.core.dicom import read_frames
from ownscan.core.dicom._frames import FREE_FRAMES, RECORD_BYTES
from ownscan.core.errors import ReadProblem

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"


def _el(tag: int, vr: str, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    head = struct.pack("<HH2s", tag >> 16, tag & 0xFFFF, vr.encode())
    if vr in ("OB", "OW", "SQ", "UN"):
        return head + struct.pack("<HL", 0, len(raw)) + raw
    return head + struct.pack("<H", len(raw)) + raw


def _us(tag: int, v: int) -> bytes:
    return _el(tag, "US", struct.pack("<H", v))


def _item(body: bytes) -> bytes:
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body


def _sq(tag: int, *items: bytes) -> bytes:
    return _el(tag, "SQ", b"".join(_item(i) for i in items))


def write(
    out: Path,
    n: int,
    size: int = 1,
    *,
    enhanced: bool = True,
    positions: bool = False,
    fragments: int | None = None,
    uid: int = 2,
) -> Path:
    """``n`` frames of ``size`` x ``size`` 16-bit pixels (zeros) in one CT file.

    ``enhanced``: shared groups hold orientation, spacing and rescale (-1024); each frame's
    per-frame item is empty, or (``positions``) holds its own Plane Position, 1 mm apart along
    z, and Frame Content. Not enhanced: a legacy multi-frame file with one position.
    ``uid``: told apart from another file's SOP Instance and Series UIDs.
    ``fragments``: JPEG Lossless pixel data of one ``fragments``-byte fragment a frame (no
    JPEG inside: the header is what is tested) instead of native pixels."""
    ts = JPEG_LOSSLESS if fragments is not None else "1.2.840.10008.1.2.1"
    sop = ENHANCED_CT if enhanced else CT_IMAGE
    meta_body = (
        _el(0x00020001, "OB", b"\0\1")
        + _el(0x00020002, "UI", sop)
        + _el(0x00020003, "UI", f"1.2.826.0.1.3680043.8.498.{uid}")
        + _el(0x00020010, "UI", ts)
    )
    meta = _el(0x00020000, "UL", struct.pack("<L", len(meta_body))) + meta_body
    top = [
        _el(0x00080008, "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
        _el(0x00080016, "UI", sop),
        _el(0x00080018, "UI", f"1.2.826.0.1.3680043.8.498.{uid}"),
        _el(0x00080060, "CS", "CT"),
        _el(0x00100010, "PN", "Many^Frames"),
        _el(0x00100020, "LO", "MANY"),
        _el(0x0020000D, "UI", "1.2.826.0.1.3680043.8.498.3"),
        _el(0x0020000E, "UI", f"1.2.826.0.1.3680043.8.498.{uid}.4"),
        _el(0x00200013, "IS", "1"),
    ]
    if not enhanced:
        top += [
            _el(0x00200032, "DS", "0\\0\\0"),
            _el(0x00200037, "DS", "1\\0\\0\\0\\1\\0"),
        ]
    top += [
        _us(0x00280002, 1),
        _el(0x00280004, "CS", "MONOCHROME2"),
        _el(0x00280008, "IS", str(n)),
        _us(0x00280010, size),
        _us(0x00280011, size),
    ]
    if not enhanced:
        top.append(_el(0x00280030, "DS", "0.5\\0.5"))
    top += [_us(0x00280100, 16), _us(0x00280101, 12), _us(0x00280102, 11), _us(0x00280103, 0)]
    groups = b""
    if enhanced:
        shared = _sq(
            0x52009229,
            _sq(0x00209116, _el(0x00200037, "DS", "1\\0\\0\\0\\1\\0"))
            + _sq(0x00289110, _el(0x00180050, "DS", "1") + _el(0x00280030, "DS", "0.5\\0.5"))
            + _sq(
                0x00289145,
                _el(0x00281052, "DS", "-1024")
                + _el(0x00281053, "DS", "1")
                + _el(0x00281054, "LO", "HU"),
            ),
        )
        if positions:
            per = b"".join(
                _item(
                    _sq(0x00209111, _el(0x00209157, "UL", struct.pack("<L", k + 1)))
                    + _sq(0x00209113, _el(0x00200032, "DS", f"0\\0\\{k}"))
                )
                for k in range(n)
            )
        else:
            per = _item(b"") * n
        groups = shared + _el(0x52009230, "SQ", per)
    if fragments is None:
        pixels = _el(0x7FE00010, "OW", bytes(size * size * 2 * n))
    else:
        frag = _item(bytes(fragments))
        pixels = (
            struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF)
            + _item(b"")  # an empty Basic Offset Table
            + frag * n
            + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
        )
    out.write_bytes(b"\0" * 128 + b"DICM" + meta + b"".join(top) + groups + pixels)
    return out


def _refused(path: Path, says: str) -> None:
    r = capped("info", str(path))  # (120 s bound: the old code ran past it)
    assert_handled(r)
    assert r.returncode == 2, r.stdout
    lines = [ln for ln in r.stderr.splitlines() if str(path) in ln and says in ln]
    assert len(lines) == 1, r.stderr


def test_a_million_empty_per_frame_items_are_refused_at_once(tmp_path: Path) -> None:
    bad = write(tmp_path / "million.dcm", 1_000_000)
    assert bad.stat().st_size < 12 << 20  # the 9 MB file of the finding
    _refused(bad, "1,000,000 frames of 1x1 pixels")


def test_a_million_tiny_legacy_frames_are_refused(tmp_path: Path) -> None:
    # no functional groups: the header scanner reads it, one record a frame all the same
    bad = write(tmp_path / "legacy.dcm", 1_000_000, enhanced=False)
    _refused(bad, "1,000,000 frames of 1x1 pixels")


def test_a_million_empty_fragments_claiming_real_frames_are_refused(tmp_path: Path) -> None:
    # 64x64 frames (8 KiB decoded, above the pixel rule) in 2-byte fragments: 18 MB of file
    # for a million records; the file-size rule for compressed data refuses it
    bad = write(tmp_path / "fragments.dcm", 1_000_000, 64, fragments=2)
    _refused(bad, "1,000,000 compressed frames in a file of")


def test_import_names_the_refused_file_and_keeps_the_good(tmp_path: Path) -> None:
    # import keeps a patient's files as they are (stored, with the reason named) and reads
    # the good one beside it; the old code ran past the time bound reading the header
    folder = tmp_path / "in"
    folder.mkdir()
    bad = write(folder / "million.dcm", 1_000_000)
    write(folder / "good.dcm", 20, 8, positions=True, uid=5)
    r = capped("import", str(folder), "--library", str(tmp_path / "lib"))
    assert_handled(r)
    said = [ln for ln in r.stdout.splitlines() if ln.startswith("warning") and str(bad) in ln]
    assert len(said) == 1 and "1,000,000 frames of 1x1 pixels" in said[0], r.stdout
    assert "2 imported, 1 with an image header that is not true" in r.stdout, r.stdout
    shown = capped("info", str(folder))
    assert shown.returncode == 0 and "20 image(s)" in shown.stdout, shown.stdout


def test_up_to_the_free_count_tiny_frames_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "free.dcm", FREE_FRAMES, positions=True)
    frames = read_frames(path)
    assert len(frames) == FREE_FRAMES
    assert frames[-1].ipp == (0.0, 0.0, float(FREE_FRAMES - 1))
    assert frames[7].intercept == -1024.0 and frames[7].stack_key == (8,)
    with pytest.raises(ReadProblem, match=f"{FREE_FRAMES + 1:,} frames of 1x1 pixels"):
        read_frames(write(tmp_path / "one-more.dcm", FREE_FRAMES + 1))


def test_many_frames_of_record_size_are_read_as_a_volume(tmp_path: Path) -> None:
    # just above the free count, frames of exactly RECORD_BYTES (64x32 would be; 45x45 x 2
    # bytes is 4050, so 46x46): read, positions and rescale per frame as written
    side = 46
    assert side * side * 2 >= RECORD_BYTES > 45 * 45 * 2
    n = FREE_FRAMES + 1
    path = write(tmp_path / "many.dcm", n, side, positions=True)
    frames = read_frames(path)
    assert len(frames) == n
    assert [fr.ipp for fr in frames[:3]] == [(0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, 2.0)]
    assert frames[-1].ipp == (0.0, 0.0, float(n - 1))
    assert {fr.intercept for fr in frames} == {-1024.0}
    assert {fr.pixel_spacing for fr in frames} == {(0.5, 0.5)}
    (series,) = assemble(path).series
    assert series.load().voxels.shape == (n, side, side)
    with pytest.raises(ReadProblem, match="frames of 45x45 pixels"):
        read_frames(write(tmp_path / "small.dcm", n, 45))
