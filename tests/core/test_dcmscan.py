"""The pydicom-free header scanner (core/_scan.py): every header it reads gives exactly the
Frame records that pydicom's reading gives, and it declines whatever it is not sure of.

Each file is read both ways: ``_fast_frames`` (the scanner) and ``_frames_of`` (pydicom, the
path used before the scanner and still used when it declines). Where the scanner reads a file,
the records (every field) or the error must be the same; where it declines, the reason is
checked against the table of expected declines.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ctgen import make_ct_dataset, write_ct_series
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import generate_uid
from realdata import MR_HEAD_DATA

from ownscan.core._sample import sample_path
from ownscan.core.dicom import _frames, _scan
from ownscan.core.plugin_types import SourceItem

Outcome = Any  # list[Frame] | ("declined", reason) | ("error", type name, message)


def _outcome(fn: Any) -> Outcome:
    try:
        got = fn()
    except Exception as exc:  # whatever a damaged header makes either reader raise
        return ("error", type(exc).__name__, str(exc))
    if isinstance(got, str):
        return ("declined", got)
    return got


def _both(item: Any) -> tuple[Outcome, Outcome]:
    src = _frames._source_of(item, 0)

    def slow() -> list[_frames.Frame]:
        with _frames.quiet_pydicom():
            return _frames._frames_of(src, {})

    return _outcome(lambda: _frames._fast_frames(src, {})), _outcome(slow)


def _same(item: Any) -> str | None:
    """Read ``item`` both ways; assert the scanner's result equals pydicom's where it reads
    the header. Returns the scanner's reason for declining, or None."""
    fast, slow = _both(item)
    if isinstance(fast, tuple) and fast[0] == "declined":
        # a decline has a reason; a crash of the walk caught as a decline is a bug
        assert not str(fast[1]).startswith("scanner failed"), (item, fast)
        return str(fast[1])
    assert fast == slow, f"{item}: scanner {fast!r}\n  pydicom {slow!r}"
    if isinstance(fast, list):
        # same types too (TransferSyntax with the same name; values of the same kinds)
        for a, b in zip(fast, slow, strict=True):
            assert type(a.transfer_syntax) is type(b.transfer_syntax)
            assert a.transfer_syntax.name == b.transfer_syntax.name
            for name in a.__dataclass_fields__:
                va, vb = getattr(a, name), getattr(b, name)
                assert type(va) is type(vb), (item, name, va, vb)
    return None


# ----------------------------------------------------------------------------------------------
# real files


# file -> words in the scanner's reason for declining it (every other file is read by it)
SHARED_DECLINES = {
    "liver.dcm": "enhanced multi-frame",  # a segmentation (functional groups)
}


def test_every_shared_file_reads_the_same(
    pydicom_files: dict[str, Path], mr_head_dir: Path
) -> None:
    # pydicom's test files, the 384 MR slices, and the data's text files (not DICOM: both decline)
    texts = [p for p in MR_HEAD_DATA.parent.rglob("*") if p.suffix == ".md" or p.name == "LICENSE"]
    paths = [*pydicom_files.values(), *sorted(mr_head_dir.iterdir()), *sorted(texts)]
    declined = {}
    n_read = 0
    for path in paths:
        why = _same(path)
        if why is not None:
            declined[path.name] = why
        else:
            n_read += 1
    assert set(declined) == set(SHARED_DECLINES), declined
    for name, words in SHARED_DECLINES.items():
        assert words in declined[name], (name, declined[name])
    assert n_read > 390  # the 384 MR slices, the other pydicom files, licences (not DICOM)


def test_bundled_sample_reads_the_same() -> None:
    files = sorted(p for p in sample_path().iterdir() if p.is_file())
    assert len(files) > 100
    for path in files:
        assert _same(path) is None, path


# ----------------------------------------------------------------------------------------------
# generated files: every variant the tests make


def _ct(**kw: Any) -> Dataset:
    hu = np.array([[-1000, 40, 60], [1000, -3024, 5]], dtype=np.int16)
    args: dict[str, Any] = dict(
        ipp=(-10.0, -20.0, 30.0),
        iop=(1, 0, 0, 0, 1, 0),
        pixel_spacing=(0.7, 0.8),
        thickness=2.5,
        series_uid=generate_uid(),
        study_uid=generate_uid(),
        frame_uid=generate_uid(),
        instance_number=3,
    )
    args.update(kw)
    return make_ct_dataset(hu, **args)


def _save(ds: Dataset, path: Path, implicit: bool | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if implicit is not None:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    ds.save_as(path, enforce_file_format=True)
    return path


def _sequences(implicit: bool, undefined: bool, items_undefined: bool = True) -> Dataset:
    """A CT with sequences before and among the wanted tags: nested, of defined and undefined
    length (items too), items holding tags that also exist at the top level (with other
    values)."""
    ds = _ct()
    inner = Dataset()
    inner.ImagePositionPatient = ["1", "2", "3"]
    inner.Rows = 99
    nested = Dataset()
    nested.SeriesInstanceUID = "1.2.3"
    nested.CodeMeaning = "nested"
    inner.PurposeOfReferenceCodeSequence = DSequence([nested])
    ds.ReferencedImageSequence = DSequence([inner, Dataset()])
    code = Dataset()
    code.CodeValue = "X"
    code.CodeMeaning = "Rows\\Columns"
    ds.ProcedureCodeSequence = DSequence([code])
    ds.AnatomicRegionSequence = DSequence([])
    if undefined:
        for holder, kw in [
            (ds, "ReferencedImageSequence"),
            (ds, "ProcedureCodeSequence"),
            (ds, "AnatomicRegionSequence"),
            (inner, "PurposeOfReferenceCodeSequence"),
        ]:
            holder[kw].is_undefined_length = True
            for item in holder[kw].value:
                item.is_undefined_length_sequence_item = items_undefined
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    return ds


def _multiframe(implicit: bool) -> Dataset:
    ds = _ct()
    ds.NumberOfFrames = 3
    ds.PixelData = ds.PixelData * 3
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    return ds


def _transcode(src: Path, out: Path, cmd: list[str]) -> Path:
    exe = shutil.which(cmd[0])
    assert exe, f"{cmd[0]} is not installed (Debian libgdcm-tools / dcmtk)"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, *cmd[1:], str(src), str(out)], check=True, capture_output=True)
    return out


def _raw_data_set(path: Path, out: Path, keep_meta: bool) -> Path:
    """The file without preamble and DICM (and without its meta group unless ``keep_meta``)."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    (meta_len,) = struct.unpack("<L", data[140:144])
    out.write_bytes(data[132:] if keep_meta else data[144 + meta_len :])
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> file, for every variant; names ending in '!' are expected to be declined."""
    d = tmp_path_factory.mktemp("scan")
    f: dict[str, Path] = {}
    f["explicit"] = write_ct_series(d / "explicit", n_slices=3)[1]
    f["implicit"] = write_ct_series(d / "implicit", n_slices=3, implicit=True)[1]
    f["oblique_tilt"] = write_ct_series(
        d / "oblique",
        n_slices=3,
        iop=(0.9659258, 0.2588190, 0, -0.2588190, 0.9659258, 0),
        tilt_deg=12.0,
    )[2]
    f["unsigned"] = write_ct_series(d / "unsigned", n_slices=2, signed=False)[0]
    f["localizer"] = _save(_ct(image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")), d / "loc.dcm")
    ds = _ct()
    ds.PhotometricInterpretation = "MONOCHROME1"
    f["monochrome1"] = _save(ds, d / "mono1.dcm")
    for implicit in (False, True):
        tag = "implicit" if implicit else "explicit"
        ds = _ct(intercept=0)
        ds.PixelPaddingValue = -3024
        f[f"padding_signed_{tag}"] = _save(ds, d / f"pad_s_{tag}.dcm", implicit)
        ds = _ct(signed=False)
        ds.PixelPaddingValue = 0
        ds.PixelPaddingRangeLimit = 24
        f[f"padding_unsigned_{tag}"] = _save(ds, d / f"pad_u_{tag}.dcm", implicit)
        f[f"multiframe_{tag}"] = _save(_multiframe(implicit), d / f"mf_{tag}.dcm")
        for undefined in (False, True):
            name = f"sequences_{tag}_{'undefined' if undefined else 'defined'}"
            f[name] = _save(_sequences(implicit, undefined), d / f"{name}.dcm")
        name = f"sequences_{tag}_mixed"  # undefined-length sequences of defined-length items
        f[name] = _save(_sequences(implicit, True, items_undefined=False), d / f"{name}.dcm")
        ds = _ct()  # empty values: pydicom converts some while reading implicit VR
        ds.ImageType = ""
        ds.InstanceNumber = None
        ds.WindowCenterWidthExplanation = ""
        ds.PatientName = ""
        ds.SeriesNumber = None
        ds.RescaleType = ""
        ds.PhotometricInterpretation = ""
        ds.GantryDetectorTilt = None
        f[f"empty_values_{tag}"] = _save(ds, d / f"empty_{tag}.dcm", implicit)
        ds = _ct()  # a header longer than the first read: a big private blob, a long value
        ds.add_new(0x00090010, "LO", "OWNSCAN TEST")
        ds.add_new(0x00091010, "OB", bytes(range(256)) * 9000)  # 2.3 MB, jumped over
        ds.WindowCenterWidthExplanation = "\\".join(["X" * 60] * 200)  # 12 KB, read in full
        ds.WindowCenter = "\\".join(["40"] * 200)
        ds.WindowWidth = "\\".join(["400"] * 200)
        f[f"long_header_{tag}"] = _save(ds, d / f"long_{tag}.dcm", implicit)
    # odd but valid values the two readers must agree on
    ds = _ct()
    ds.SeriesNumber = "  7 "
    ds.InstanceNumber = "+5"
    ds.RescaleSlope = "1e0"
    ds.RescaleIntercept = " -1024.0 "
    ds.ImageType = "DERIVED"
    ds.WindowCenterWidthExplanation = "SOFT"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.BodyPartExamined = ""
    ds.StudyDescription = " leading space"
    f["odd_values"] = _save(ds, d / "odd.dcm")
    ds = _ct()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jürgen"
    ds.InstitutionName = "Hôpital"
    f["latin1"] = _save(ds, d / "latin1.dcm")
    ds = _ct()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Smith^John"
    f["utf8_ascii"] = _save(ds, d / "utf8_ascii.dcm")
    ds = _ct()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jürgen"
    f["utf8_beyond_ascii!"] = _save(ds, d / "utf8.dcm")
    ds = _ct()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    f["iso2022!"] = _save(ds, d / "iso2022.dcm")
    # raw data sets without preamble, as old files and some archives hold them
    f["raw_explicit"] = _raw_data_set(f["explicit"], d / "raw_explicit", keep_meta=False)
    f["raw_implicit"] = _raw_data_set(f["implicit"], d / "raw_implicit", keep_meta=False)
    f["raw_with_meta"] = _raw_data_set(f["implicit"], d / "raw_with_meta", keep_meta=True)
    # the transfer syntaxes the other tests make
    src = f["explicit"]
    for name, cmd in [
        ("j2k", ["gdcmconv", "--j2k"]),
        ("jpegls", ["gdcmconv", "--jpegls"]),
        ("rle", ["gdcmconv", "--rle"]),
        ("jpeg_sv1", ["gdcmconv", "--jpeg"]),
        ("jpeg_p14", ["dcmcjpeg", "+el"]),
        ("implicit_dcmtk", ["dcmconv", "+ti"]),
        ("deflated!", ["dcmconv", "+td"]),
        ("big_endian!", ["dcmconv", "+tb"]),
    ]:
        f[name] = _transcode(src, d / "ts" / f"{name.rstrip('!')}.dcm", cmd)
    from mfgen import enhanced_from_single

    enhanced_from_single(sorted((d / "explicit").iterdir()), d / "enhanced.dcm")
    f["enhanced!"] = d / "enhanced.dcm"
    return f


# expected reasons for the declined variants
DECLINE_WORDS = {
    "utf8_beyond_ascii!": "UTF-8 beyond ASCII",
    "iso2022!": "character set",
    "deflated!": "big endian or deflated",
    "big_endian!": "big endian or deflated",
    "enhanced!": "enhanced multi-frame",
}


def test_generated_variants_read_the_same(generated: dict[str, Path]) -> None:
    for name, path in generated.items():
        why = _same(path)
        if name.endswith("!"):
            assert why is not None and DECLINE_WORDS[name] in why, (name, why)
        else:
            assert why is None, (name, why)


def test_sequences_are_really_undefined_length(generated: dict[str, Path]) -> None:
    """The sequence variants exercise what they claim: undefined lengths with delimiters."""
    for tag in ("explicit", "implicit"):
        data = generated[f"sequences_{tag}_undefined"].read_bytes()
        assert data.count(b"\xfe\xff\xdd\xe0") == 4  # three sequences and the nested one
        assert b"\xfe\xff\x0d\xe0" in data  # item delimiters
        data = generated[f"sequences_{tag}_defined"].read_bytes()
        assert b"\xfe\xff\xdd\xe0" not in data
        data = generated[f"sequences_{tag}_mixed"].read_bytes()
        assert data.count(b"\xfe\xff\xdd\xe0") == 4
        assert b"\xfe\xff\x0d\xe0" not in data


def test_items_in_memory_read_the_same(generated: dict[str, Path]) -> None:
    for name in ("explicit", "implicit", "sequences_implicit_undefined", "raw_explicit"):
        path = generated[name]
        item = SourceItem(origin=f"zip:{name}", data=path.read_bytes())
        assert _same(item) is None, name


def test_unreadable_items_fail_as_before(tmp_path: Path) -> None:
    """A folder, a missing file: the scanner declines and the error is the one pydicom's path
    has always raised."""
    for item in (tmp_path, tmp_path / "missing.dcm"):
        fast, slow = _both(item)
        assert fast[0] == "declined", item
        assert slow[0] == "error", item
        assert _outcome(lambda item=item: _frames.read_frames(item)) == slow


# ----------------------------------------------------------------------------------------------
# damaged headers: the scanner declines or agrees with pydicom, never a different record


def _header_elements(data: bytes) -> list[int]:
    """File offsets of the length fields of the top-level elements before the pixel data."""
    sc = _scan.scan(data)
    assert sc is not None and sc.pixel_tag_offset is not None
    explicit = not sc.implicit
    offsets = []
    p = 132
    while p < sc.pixel_tag_offset:
        group, _elem = struct.unpack_from("<HH", data, p)
        vr = data[p + 4 : p + 6]
        if group == 2 or explicit:
            if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OF", b"OD", b"OL"):
                offsets.append(p + 8)
                (length,) = struct.unpack_from("<L", data, p + 8)
                p += 12 + (0 if length == 0xFFFFFFFF else length)
            else:
                offsets.append(p + 6)
                (length,) = struct.unpack_from("<H", data, p + 6)
                p += 8 + length
        else:
            offsets.append(p + 4)
            (length,) = struct.unpack_from("<L", data, p + 4)
            p += 8 + length
        if length == 0xFFFFFFFF:
            break  # the rest is inside a sequence
    return offsets


@pytest.mark.parametrize("name", ["explicit", "implicit"])
def test_truncated_headers(generated: dict[str, Path], name: str, tmp_path: Path) -> None:
    data = generated[name].read_bytes()
    sc = _scan.scan(data)
    assert sc is not None and sc.pixel_offset is not None
    cuts = [*range(0, sc.pixel_offset + 16, 5), len(data) - 1, len(data) - 100]
    for n in cuts:
        path = tmp_path / f"cut{n}.dcm"
        path.write_bytes(data[:n])
        _same(path)


@pytest.mark.parametrize("name", ["explicit", "implicit"])
def test_wrong_lengths(generated: dict[str, Path], name: str, tmp_path: Path) -> None:
    data = generated[name].read_bytes()
    offsets = _header_elements(data)
    assert len(offsets) > 30
    explicit = name == "explicit"
    n = 0
    for off in offsets:
        short = explicit and data[off - 2 : off] not in (b"\0\0",)
        fmt = "<H" if short else "<L"
        (length,) = struct.unpack_from(fmt, data, off)
        for wrong in (length + 2, length - 2, length + 1, length + 0x100, 0xFFFF):
            if wrong < 0 or (short and wrong > 0xFFFF):
                continue
            bad = bytearray(data)
            struct.pack_into(fmt, bad, off, wrong)
            path = tmp_path / f"len{n}.dcm"
            n += 1
            path.write_bytes(bytes(bad))
            _same(path)


def test_garbage_after_the_preamble(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    cases = {
        "bytes": b"\0" * 128 + b"DICM" + bytes(range(256)) * 8,
        "zeros": b"\0" * 128 + b"DICM" + b"\0" * 400,
        "random": b"\0" * 128 + b"DICM" + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        "nothing": b"\0" * 128 + b"DICM",
        "text": b"my scan notes\n" * 20,
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(data)
        fast, slow = _both(path)
        assert fast == slow or fast[0] == "declined", (name, fast, slow)


def test_random_damage_never_gives_another_record(
    generated: dict[str, Path], tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    names = [
        "explicit",
        "implicit",
        "sequences_explicit_undefined",
        "sequences_implicit_undefined",
        "sequences_explicit_mixed",
        "sequences_implicit_mixed",
    ]
    for name in names:
        data = generated[name].read_bytes()
        sc = _scan.scan(data)
        assert sc is not None and sc.pixel_offset is not None
        for k in range(150):
            bad = bytearray(data)
            for _ in range(1 + k % 3):
                pos = int(rng.integers(132, sc.pixel_offset))
                bad[pos] = int(rng.integers(0, 256))
            path = tmp_path / f"{name}{k}.dcm"
            path.write_bytes(bytes(bad))
            _same(path)


# ----------------------------------------------------------------------------------------------
# the scanner's own API


def test_scan_finds_the_pixel_data_where_pydicom_stops(generated: dict[str, Path]) -> None:
    names = ("explicit", "implicit", "sequences_implicit_undefined", "j2k", "multiframe_implicit")
    for name in names:
        path = generated[name]
        sc = _scan.scan(path)
        assert sc is not None, name
        with path.open("rb") as fp:
            dcmread(fp, stop_before_pixels=True)
            assert sc.pixel_tag_offset == fp.tell(), name
        assert sc.size == path.stat().st_size
        ds = dcmread(path)
        raw = path.read_bytes()
        if name == "j2k":
            assert sc.pixel_length is None and sc.transfer_syntax.startswith("1.2.840.10008.1.2.4.")
        else:
            assert sc.pixel_offset is not None and sc.pixel_length is not None
            end = sc.pixel_offset + sc.pixel_length
            assert raw[sc.pixel_offset : end] == ds.PixelData, name
        # the values asked for are the raw bytes pydicom holds
        for tag in (0x00280010, 0x0020000E, 0x00281050, 0x00100010):
            el = ds.get_item(tag)
            assert sc.elements[tag][1] == el.value, (name, hex(tag))


def test_scan_only_keeps_the_tags_asked_for(generated: dict[str, Path]) -> None:
    sc = _scan.scan(generated["explicit"], {0x00280010})
    assert sc is not None
    assert set(sc.elements) == {0x00280010}
    assert sc.elements[0x00280010] == ("US", struct.pack("<H", 48))
    assert 0x00280011 in sc.present
    assert sc.meta[0x00020010][1].rstrip(b"\0") == b"1.2.840.10008.1.2.1"


def test_scan_declines_with_a_reason(generated: dict[str, Path], caplog: Any) -> None:
    assert _scan.scan(generated["big_endian!"]) is None
    assert "big endian" in str(_scan.scan_or_reason(generated["big_endian!"]))
    assert "deflated" in str(_scan.scan_or_reason(generated["deflated!"]))
    with caplog.at_level("DEBUG", logger="ownscan.core.dicom._scan"):
        _scan.scan(generated["deflated!"])
    assert "deflated" in caplog.text
    # the header reader logs why pydicom reads a file
    caplog.clear()
    with caplog.at_level("DEBUG", logger="ownscan.core.dicom._frames"):
        frames = _frames.read_frames(generated["enhanced!"])
    assert len(frames) == 3
    assert "enhanced multi-frame" in caplog.text


def test_fast_value_rules() -> None:
    fv = _scan.fast_value
    assert fv("DS", b"1.5\\-2e1 ") == [1.5, -20.0]
    assert fv("DS", b" 40 ") == 40.0
    assert fv("IS", b"7.0 ") == 7
    assert fv("IS", b"", "none") == "none"
    assert fv("CS", b"ORIGINAL\\PRIMARY\\AXIAL ") == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert fv("UI", b"1.2.840.10008.1.2\0") == "1.2.840.10008.1.2"
    assert fv("US", b"\x00\x02") == 512
    assert fv("SS", b"\x00\xf4\x01\x00") == [-3072, 1]
    assert fv("US", b"") is None
    for vr, raw in [("DS", b"abc"), ("US", b"\x01"), ("LO", b"x"), ("IS", b"1\\x")]:
        with pytest.raises(_scan.Declined):
            fv(vr, raw)


def test_keyword_table_is_pydicoms_dictionary() -> None:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    for kw, (tag, vr) in _frames._TAG_VR.items():
        assert tag_for_keyword(kw) == tag, kw
        assert dictionary_VR(tag) == vr, kw


def test_transfer_syntax_names() -> None:
    from pydicom.uid import UID

    for uid in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90", "1.2.3.4"):
        assert _scan.TransferSyntax(uid).name == UID(uid).name


def test_assemble_and_load_import_no_pydicom(generated: dict[str, Path]) -> None:
    """Uncompressed files are assembled and loaded without importing pydicom at all."""
    folder = generated["explicit"].parent
    code = (
        "import sys\n"
        "from ownscan.core.assembly import assemble\n"
        f"found = assemble({str(folder)!r})\n"
        "vol = found.series[0].load()\n"
        "assert vol.voxels.shape == (3, 48, 64), vol.voxels.shape\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydicom'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_bytes_and_path_scan_alike(generated: dict[str, Path]) -> None:
    for name in ("explicit", "sequences_explicit_undefined", "raw_implicit"):
        path = generated[name]
        a = _scan.scan(path)
        b = _scan.scan(io.BytesIO(path.read_bytes()).getvalue())
        assert a == b, name


# ----------------------------------------------------------------------------------------------
# value by value: the scanner's decoding against pydicom's on random bytes

_ALPHABET = [
    *b"AZaz09^.+-= ",
    0x5C,  # backslash
    0x00,
    0x09,
    0x1B,
    0xE9,
    0xC3,
    0x85,
    *b"0123456789.",
]


def _random_value(rng: np.random.Generator, vr: str) -> bytes:
    n = int(rng.integers(0, 9)) * 2
    if vr in ("US", "SS", "US or SS"):
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()[: int(rng.choice([0, 2, 2, 2, 4]))]
    if vr in ("DS", "IS") and rng.random() < 0.5:  # mostly numbers, with padding
        num = f"{rng.normal(0, 100):.{int(rng.integers(0, 4))}f}"
        if vr == "IS":
            num = str(int(rng.integers(-999, 999)))
        pad = [" ", "\0", "", "  ", "\\5"][int(rng.integers(0, 5))]
        raw = (num + pad).encode()
        return raw + (b" " if len(raw) % 2 else b"")
    return bytes(int(rng.choice(_ALPHABET)) for _ in range(n))


def _stream(elements: list[tuple[int, str, bytes]], implicit: bool) -> bytes:
    out = b""
    for tag, vr, raw in sorted(elements):
        out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        if implicit:
            out += struct.pack("<L", len(raw))
        elif vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):  # 4-byte length
            out += vr.encode() + b"\0\0" + struct.pack("<L", len(raw))
        else:
            out += vr.encode() + struct.pack("<H", len(raw))
        out += raw
    return out


def _int_text(text: str) -> str:
    """An integer string without leading zeros ("01" -> "1"); other text as it is."""
    try:
        return str(int(text))
    except ValueError:
        return text


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("charset", [None, b"ISO_IR 100", b"ISO_IR 192"])
def test_values_decode_as_pydicom_decodes_them(implicit: bool, charset: bytes | None) -> None:
    from pydicom.filereader import read_dataset

    rng = np.random.default_rng(2 if implicit else 3)
    kws = [kw for kw, (_, vr) in _frames._TAG_VR.items() if vr != "SQ"]
    kws.remove("SpecificCharacterSet")
    taken = declined = 0
    for _ in range(40):
        for kw in kws:
            tag, vr = _frames._TAG_VR[kw]
            file_vr = {"US or SS": str(rng.choice(["US", "SS"]))}.get(vr, vr)
            if rng.random() < 0.2:
                file_vr = "UN"  # a known tag stored as UN (explicit VR only)
            raw = _random_value(rng, vr)
            els = [(tag, file_vr, raw)]
            if charset is not None:
                els.append((0x00080005, "CS", charset))
            if vr == "US or SS":
                els.append((0x00280103, "US", struct.pack("<H", int(rng.integers(0, 2)))))
            with _frames.quiet_pydicom():
                ds = read_dataset(io.BytesIO(_stream(els, implicit)), implicit, True)
            sc = _scan.Scan(
                transfer_syntax=_scan.TransferSyntax("1.2.840.10008.1.2"),
                implicit=implicit,
                meta={},
                elements={t: (None if implicit else v, r) for t, v, r in els},
                present=frozenset(t for t, _, _ in els),
                pixel_tag_offset=None,
                pixel_offset=None,
                pixel_length=None,
                size=0,
            )
            sds = _frames._ScanDs(sc, _scan.text_rule(sc))
            sfx = _frames._ScanFast(sc, sds)
            fx = _frames._Fast(ds)

            def uses(d: Any, f: Any, kw: str) -> tuple[Any, ...]:
                """What _frames does with the value: _Fast.get on the raw value, then _s (which
                converts it in a pydicom Dataset), _Fast.get again, and per keyword."""
                with _frames.quiet_pydicom():
                    v = f.get(kw)
                    kind = type(v).__name__  # pydicom's types and what they are used as
                    kind = {"MultiValue": "list", "PersonName": "str", "UID": "str"}.get(kind, kind)
                    kind = {"IS": "int", "DSfloat": "float"}.get(kind, kind)
                    # an AT value (Frame Increment Pointer): pydicom's BaseTag, the scanner's
                    # own int of the same value and text (it never imports pydicom)
                    kind = {"BaseTag": "tag", "_Tag": "tag"}.get(kind, kind)
                    got: list[Any] = [(kind, list(v) if kind == "list" else v)]
                    if kw == "ImageType" and isinstance(v, str):
                        got.append(str(d.get("ImageType")).upper())
                    texts = [_frames._s(f, kw)]
                    if _frames._TAG_VR[kw][1] in _frames._PYDICOM_TEXT:  # read by pydicom too
                        texts.insert(0, _frames._s(d, kw))
                    if _frames._TAG_VR[kw][1] == "IS":  # used as numbers: pydicom's str()
                        texts = [_int_text(t) for t in texts]  # keeps "01", the scanner "1"
                    got += texts
                    if kw == "SeriesNumber":
                        num = d.get(kw)
                        try:
                            got.append(int(num) if num not in (None, "") else None)
                        except (TypeError, ValueError):
                            got.append("bad")
                    if kw == "WindowCenterWidthExplanation":
                        e = d.get(kw, [])
                        e = [e] if isinstance(e, str) else e
                        got.append([str(x).strip() for x in e])
                    return tuple(got)

            try:
                fast = uses(sds, sfx, kw)
            except _scan.Declined:
                declined += 1
                continue
            try:
                slow = uses(ds, fx, kw)
            except Exception as exc:  # pydicom fails on it: the scanner must not have read it
                pytest.fail(f"{kw} {raw!r}: scanner read {fast!r}, pydicom raised {exc!r}")
            assert fast == slow, (kw, raw, fast, slow)
            taken += 1
    assert taken > declined / 2, (taken, declined)  # it compares values, not only declines
