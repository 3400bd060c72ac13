"""Hostile and odd-vendor variants of real-looking series, by class, through the front doors.

Each variant is made here from a generated CT series (tests/core/ctgen.py) by the change one
vendor or one broken tool makes; every file is read by ``assemble``/``Series.load`` and the
commands (``export``, ``render``, ``info``) in subprocesses under a memory cap and a time
bound (tests/core/hostile.py). The classes:

* **Odd but valid encodings**: garbage above BitsStored (signed and unsigned), no Pixel
  Representation, 8- and 32-bit allocation, no Photometric Interpretation, a padding pair of
  bytes, Number of Frames 0, implicit VR, big endian. The NIfTI written equals dcm2niix's
  (voxels identical, affine within 0.01 mm).
* **Untrue offset tables** of encapsulated multi-frame data (offsets past the data, offsets
  out of order, one offset missing, none with each frame in several fragments): every frame
  holds its own image, equal to the uncompressed original (pydicom trusts such a table and
  used to give frames other frames' pictures, or none).
* **Nothing decodable**: a series none of whose frames decodes (an unknown Photometric
  Interpretation, a transfer syntax that says JPEG 2000 over native bytes) is one line naming
  the file, never a volume of padding: ``export`` writes no file, ``render`` no picture.
* **Rescale Slope 0**: used as 1, with a warning that names the file.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped
from niicompare import compare, dcm2niix

from ownscan.core import assemble
from ownscan.core.dicom import ReadProblem

N_SLICES = 4


def _edit(fn: Callable[[pydicom.Dataset, int], None]) -> Callable[[Path], None]:
    """A variant made by ``fn(dataset, slice index)`` on every file of the folder."""

    def make(folder: Path) -> None:
        for k, f in enumerate(sorted(folder.glob("*.dcm"))):
            ds = pydicom.dcmread(f)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(ds, k)
                ds.save_as(f)

    return make


def _garbage_unsigned(ds: pydicom.Dataset, k: int) -> None:
    a = np.frombuffer(ds.PixelData, np.uint16)
    ds.PixelData = ((a & 0x0FFF) | 0xA000).astype(np.uint16).tobytes()  # BitsStored 12


def _garbage_signed(ds: pydicom.Dataset, k: int) -> None:
    a = np.clip(np.frombuffer(ds.PixelData, np.int16).astype(np.int32), -2048, 2047)
    ds.BitsStored, ds.HighBit, ds.RescaleIntercept = 12, 11, "0"
    ds.PixelData = ((a & 0x0FFF) | 0x5000).astype(np.uint16).tobytes()


def _bits32(ds: pydicom.Dataset, k: int) -> None:
    a = np.frombuffer(ds.PixelData, np.int16).astype(np.int32)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.PixelData = a.tobytes()


def _bits8(ds: pydicom.Dataset, k: int) -> None:
    a = np.frombuffer(ds.PixelData, np.uint16)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = (a >> 4).astype(np.uint8).tobytes()


def _dcmconv(flag: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        for f in sorted(folder.glob("*.dcm")):
            subprocess.run(["dcmconv", flag, str(f), str(f)], check=True, capture_output=True)

    return make


# name -> (unsigned data?, how to make it from the folder of a good series)
VALID: dict[str, tuple[bool, Callable[[Path], None]]] = {
    "bits-above-stored-unsigned": (True, _edit(_garbage_unsigned)),
    "bits-above-stored-signed": (False, _edit(_garbage_signed)),
    "no-pixel-representation": (False, _edit(lambda ds, k: delattr(ds, "PixelRepresentation"))),
    "bits-allocated-32": (False, _edit(_bits32)),
    "bits-allocated-8": (True, _edit(_bits8)),
    "no-photometric": (False, _edit(lambda ds, k: delattr(ds, "PhotometricInterpretation"))),
    "pixel-data-padded": (
        False,
        _edit(lambda ds, k: setattr(ds, "PixelData", ds.PixelData + b"\0\0")),
    ),
    "number-of-frames-0": (False, _edit(lambda ds, k: setattr(ds, "NumberOfFrames", 0))),
    "implicit-vr": (False, _dcmconv("+ti")),
    "big-endian": (False, _dcmconv("+tb")),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_odd_encodings_equal_dcm2niix(name: str, tmp_path: Path) -> None:
    unsigned, make = VALID[name]
    folder = tmp_path / "in"
    write_ct_series(folder, n_slices=N_SLICES, signed=not unsigned)
    make(folder)
    r = capped("export", str(folder), "-o", str(tmp_path / "ours"), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr
    ours = sorted((tmp_path / "ours").glob("*.nii"))
    theirs = dcm2niix(folder, tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1, (ours, theirs)
    compare(ours[0], theirs[0])


# -- encapsulated multi-frame data with an untrue offset table ----------------------------------
def _multiframe_j2k(folder: Path, tmp: Path) -> tuple[list[bytes], np.ndarray]:
    """The J2K frames (one codestream each) of a generated CT and its stored values."""
    from pydicom.encaps import generate_frames

    files = write_ct_series(tmp / "src", n_slices=N_SLICES)
    frames, stored = [], []
    for f in files:
        out = tmp / "src" / f"j{f.name}"
        subprocess.run(["gdcmconv", "--j2k", str(f), str(out)], check=True)
        frames.append(next(generate_frames(pydicom.dcmread(out).PixelData, number_of_frames=1)))
        stored.append(pydicom.dcmread(f).pixel_array)
    return frames, np.stack(stored)


def _item(data: bytes) -> bytes:
    return b"\xfe\xff\x00\xe0" + len(data).to_bytes(4, "little") + data


def _encapsulated(
    frames: list[bytes], table: Callable[[list[int]], list[int]], split: int
) -> bytes:
    """Pixel Data: an offset table made by ``table(true offsets)``, each frame in ``split``
    fragments (cut at even lengths: a fragment's length is even)."""
    items, offsets, pos = [], [], 0
    for fr in frames:
        offsets.append(pos)
        n = (len(fr) // split) & ~1
        cuts = [fr[i * n : (i + 1) * n] for i in range(split - 1)] + [fr[(split - 1) * n :]]
        for c in cuts:
            c = c + b"\0" * (len(c) % 2)
            items.append(_item(c))
            pos += 8 + len(c)
    bot = b"".join(int(v).to_bytes(4, "little") for v in table(offsets))
    return _item(bot) + b"".join(items)  # pydicom writes the sequence delimiter


TABLES: dict[str, tuple[Callable[[list[int]], list[int]], int]] = {
    "offsets-past-the-data": (lambda t: [(123456789 * (k + 1)) % 2**32 for k in range(len(t))], 1),
    "offsets-out-of-order": (lambda t: t[1:] + t[:1], 1),
    "one-offset-missing": (lambda t: t[:-1], 1),
    "offsets-between-fragments": (lambda t: [v + 8 for v in t], 2),
    "no-table-several-fragments": (lambda t: [], 3),
    "true-table-several-fragments": (lambda t: t, 3),
}


def write_multiframe_j2k(
    folder: Path, tmp: Path, table: Callable[[list[int]], list[int]], split: int
) -> tuple[Path, np.ndarray]:
    """A 4-frame JPEG 2000 file in ``folder`` (a generated CT's slices as its frames) whose
    offset table is ``table(true offsets)`` and whose frames are in ``split`` fragments each;
    and the values it holds (HU), frame by frame."""
    frames, stored = _multiframe_j2k(folder, tmp)
    ds = pydicom.dcmread(sorted((tmp / "src").glob("jIM*.dcm"))[0])
    ds.NumberOfFrames = N_SLICES
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"
    ds.PixelData = _encapsulated(frames, table, split)
    ds["PixelData"].is_undefined_length = True
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "mf.dcm")
    shutil.rmtree(tmp / "src")
    return folder / "mf.dcm", stored - 1024


@pytest.mark.parametrize("name", list(TABLES))
def test_untrue_offset_tables_give_every_frame_its_own_image(name: str, tmp_path: Path) -> None:
    table, split = TABLES[name]
    _, expected = write_multiframe_j2k(tmp_path / "in", tmp_path, table, split)
    found = assemble(tmp_path / "in")
    assert not found.errors, found.errors
    (s,) = found.series
    got = np.concatenate([v.voxels for v in s.load_volumes()])  # frames as repetitions
    assert s.load_errors == []
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    # and the command line's export of the same file (a worker process decodes it)
    r = capped("export", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 0, r.stderr


def test_an_offset_table_that_cannot_be_sorted_out_is_one_line(tmp_path: Path) -> None:
    # an untrue table over frames in several fragments none of which begins a codestream
    frames, _ = _multiframe_j2k(tmp_path / "in", tmp_path)
    first = sorted((tmp_path / "src").glob("jIM*.dcm"))[0]
    ds = pydicom.dcmread(first)
    ds.NumberOfFrames = N_SLICES
    ds.PixelData = _encapsulated([b"\0\0" + f for f in frames], lambda t: t[::-1], 2)
    ds["PixelData"].is_undefined_length = True
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "mf.dcm")
    found = assemble(tmp_path / "in")
    assert not found.series
    (p,) = found.errors
    assert p.origin.endswith("mf.dcm") and "offset table is untrue" in p.reason, p


# -- series of which nothing decodes ------------------------------------------------------------
def _say_j2k(folder: Path) -> None:
    """The transfer syntax says JPEG 2000; the pixel data is native (a lying re-writer)."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
        head = DicomBytesIO()
        head.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(head, ds.file_meta, enforce_standard=True)
        body = DicomBytesIO()
        body.is_little_endian, body.is_implicit_VR = True, False
        write_dataset(body, ds)
        f.write_bytes(head.getvalue() + body.getvalue())


UNDECODABLE: dict[str, Callable[[Path], None]] = {
    "unknown-photometric": _edit(lambda ds, k: setattr(ds, "PhotometricInterpretation", "FOO")),
    "native-bytes-said-to-be-j2k": _say_j2k,
}


@pytest.mark.parametrize("name", list(UNDECODABLE))
def test_nothing_decodable_is_one_line_and_no_output(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    files = write_ct_series(folder, n_slices=N_SLICES)
    UNDECODABLE[name](folder)
    (s,) = assemble(folder).series
    with pytest.raises(ReadProblem, match=r"no image of .* could be decoded"):
        s.load()
    out = tmp_path / "out"
    r = capped("export", str(folder), "-o", str(out), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 1 and files[0].name in r.stderr, r.stderr
    assert "could be decoded" in r.stderr, r.stderr
    if name == "native-bytes-said-to-be-j2k":
        assert "stored as plain bytes, not in fragments" in r.stderr, r.stderr
    assert not list(out.glob("*")) if out.exists() else True  # no file, not even a part
    png = tmp_path / "r.png"
    r = capped("render", str(folder), "-o", str(png), "--size", "64x64", "--backend", "cpu")
    assert_handled(r)
    assert r.returncode == 2 and "could be decoded" in r.stderr and not png.exists(), r.stderr


def test_rescale_slope_zero_is_used_as_one_and_said(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    files = write_ct_series(folder, n_slices=N_SLICES)
    stored = np.stack([pydicom.dcmread(f).pixel_array for f in files]).astype(np.int32)
    _edit(lambda ds, k: setattr(ds, "RescaleSlope", "0"))(folder)
    (s,) = assemble(folder).series
    assert any("RescaleSlope '0" in w and "used 1" in w for w in s.warnings), s.warnings
    np.testing.assert_array_equal(s.load().voxels, stored - 1024)
    r = capped("info", str(folder))
    assert_handled(r)
    assert "RescaleSlope" in r.stdout + r.stderr and files[0].name in r.stdout + r.stderr


# -- colour as writers store it -----------------------------------------------------------------
def _ybr(ds: pydicom.Dataset, subsampled: bool) -> None:
    from pydicom.pixels import convert_color_space

    ybr = convert_color_space(ds.pixel_array, "RGB", "YBR_FULL")
    if subsampled:  # uncompressed 4:2:2: Y0 Y1 CB CR for each pair of pixels
        pairs = np.empty((ybr.shape[0], ybr.shape[1] // 2, 4), np.uint8)
        pairs[..., 0], pairs[..., 1] = ybr[:, 0::2, 0], ybr[:, 1::2, 0]
        pairs[..., 2], pairs[..., 3] = ybr[:, 0::2, 1], ybr[:, 0::2, 2]
        ybr = pairs
    ds.PhotometricInterpretation = "YBR_FULL_422" if subsampled else "YBR_FULL"
    ds.PixelData = np.ascontiguousarray(ybr).tobytes()


def _planar1(ds: pydicom.Dataset) -> None:
    rgb = ds.pixel_array  # read before the header says planar
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()


COLOUR: dict[str, Callable[[pydicom.Dataset], None]] = {
    "planar-configuration-1": _planar1,
    "planar-configuration-missing": lambda ds: delattr(ds, "PlanarConfiguration"),
    "ybr-full-uncompressed": lambda ds: _ybr(ds, False),
    "ybr-full-422-uncompressed": lambda ds: _ybr(ds, True),
}


@pytest.mark.parametrize("name", list(COLOUR))
def test_colour_variants_equal_dcmtk(
    name: str, pydicom_files: dict[str, Path], tmp_path: Path
) -> None:
    original = pydicom_files["SC_rgb.dcm"]
    ds = pydicom.dcmread(original)
    COLOUR[name](ds)
    (tmp_path / "in").mkdir()
    f = tmp_path / "in" / "c.dcm"
    ds.save_as(f)
    from PIL import Image

    # every variant stores the original's picture: dcmtk's decoding of the original is the
    # truth (dcmtk refuses a missing Planar Configuration and leaves uncompressed YBR_FULL
    # unconverted, so it cannot judge every variant itself); RGB -> YBR -> RGB rounds by 3 at
    # most (PS3.3 C.7.6.3.1.2)
    subprocess.run(["dcm2pnm", str(original), str(tmp_path / "c.ppm")], check=True)
    truth = np.asarray(Image.open(tmp_path / "c.ppm")).astype(int)
    (s,) = assemble(tmp_path / "in").series
    got = s.load().voxels[0].astype(int)
    assert got.shape == truth.shape
    assert np.abs(got - truth).max() <= (3 if "ybr" in name else 0)


@pytest.mark.parametrize(
    ("keyword", "said"),
    [("ImagerPixelSpacing", "the detector"), ("NominalScannedPixelSpacing", "the film scanner")],
)
def test_a_stack_without_pixel_spacing_says_where_its_sizes_come_from(
    keyword: str, said: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_ct_series(folder, n_slices=N_SLICES)

    def move(ds: pydicom.Dataset, k: int) -> None:
        setattr(ds, keyword, ds.PixelSpacing)
        del ds.PixelSpacing

    _edit(move)(folder)
    (s,) = assemble(folder).series
    assert s.spacing[:2] == pytest.approx((0.7, 0.8))  # used (as before), and said
    assert any(f"sizes from {said}" in w for w in s.warnings), s.warnings


@pytest.mark.parametrize("name", ["offsets-out-of-order", "true-table-several-fragments"])
def test_a_multiframe_file_cut_short_loses_its_last_frame_only(name: str, tmp_path: Path) -> None:
    table, split = TABLES[name]
    mf, expected = write_multiframe_j2k(tmp_path / "in", tmp_path, table, split)
    data = mf.read_bytes()
    mf.write_bytes(data[: len(data) - 200])  # into the last frame's codestream
    found = assemble(tmp_path / "in")
    assert not found.errors, found.errors
    (s,) = found.series
    got = np.concatenate([v.voxels for v in s.load_volumes()]).reshape(expected.shape)
    assert [p.origin.endswith("mf.dcm frame 4") for p in s.load_errors] == [True], s.load_errors
    np.testing.assert_array_equal(got[:3], expected[:3])


def test_a_4d_series_none_of_whose_volumes_decodes_is_one_line(tmp_path: Path) -> None:
    mf, _ = write_multiframe_j2k(tmp_path / "in", tmp_path, lambda t: t, 1)
    _edit(lambda ds, k: setattr(ds, "PhotometricInterpretation", "FOO"))(tmp_path / "in")
    (s,) = assemble(tmp_path / "in").series
    assert s.n_volumes == N_SLICES  # one frame a volume (repetitions by frame order)
    with pytest.raises(ReadProblem, match=r"no image of .* could be decoded"):
        s.load_volumes()
    with pytest.raises(ReadProblem, match=r"no image of .* could be decoded"):
        s.load(volume=2)
    r = capped("export", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--uncompressed")
    assert_handled(r)
    assert r.returncode == 1 and "could be decoded" in r.stderr and mf.name in r.stderr
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def _with_table(data: bytes, table: Callable[[list[int]], list[int]]) -> bytes:
    """A file whose (last) encapsulated Pixel Data gets the offset table ``table(true
    offsets)``, each frame being one fragment (as in the real file used)."""
    import struct

    at = data.rindex(b"\xe0\x7f\x10\x00") + 12  # the offset table's item
    old = struct.unpack_from("<L", data, at + 4)[0]
    p, offsets = at + 8 + old, []
    while data[p : p + 4] == b"\xfe\xff\x00\xe0":
        offsets.append(p - (at + 8 + old))
        p += 8 + struct.unpack_from("<L", data, p + 4)[0]
    bot = b"".join(struct.pack("<L", v) for v in table(offsets))
    return data[:at] + _item(bot) + data[at + 8 + old :]


@pytest.mark.parametrize("name", ["offsets-out-of-order", "offsets-past-the-data"])
def test_a_real_multiframe_file_with_an_untrue_table(
    name: str, pydicom_files: dict[str, Path], tmp_path: Path
) -> None:
    # a real 3D ultrasound: 120 JPEG baseline frames, YBR_FULL_422, no offset table
    real = pydicom_files["color3d_jpeg_baseline.dcm"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "us.dcm").write_bytes(_with_table(real.read_bytes(), TABLES[name][0]))
    (s,) = assemble(tmp_path / "in").series
    (truth,) = assemble([real]).series
    got = np.concatenate([v.voxels for v in s.load_volumes()])
    want = np.concatenate([v.voxels for v in truth.load_volumes()])
    assert s.load_errors == [] and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
