"""A corpus of broken input, generated here, run through ``info``, ``import``, ``export`` and
``render`` in subprocesses under a memory cap and a time bound (issue #16): no internal error
(exit 70), no hang, no crash by a signal, and the good series that came with the broken files
kept whole (imported, exported with all its slices).

The corpus: truncations at every region of a file (preamble, file meta, data set, pixel data
element header, pixel data), header lies (sizes, frames, lengths, bits), deep sequence nesting,
bad character sets, bad geometry, damaged compressed streams (JPEG 2000, JPEG lossless, RLE)
bad zips (cut, a member's bytes flipped, a traversal name) and bad discs (DICOMDIR cut or
scrambled, ISO cut or its directory scrambled). Counts are in docs/SAFETY.md.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from ctgen import write_ct_series
from hostile import assert_handled, capped, nest_sequences
from pydicom import dcmread

GOOD_SLICES = 6


def _set(**values: object) -> Callable[[Path, Path], None]:
    def make(src: Path, out: Path) -> None:
        ds = dcmread(src)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k, v in values.items():
                setattr(ds, k, v)
            ds.save_as(out)

    return make


def _cut(where: Callable[[bytes], int]) -> Callable[[Path, Path], None]:
    def make(src: Path, out: Path) -> None:
        data = src.read_bytes()
        out.write_bytes(data[: where(data)])

    return make


def _patch(where: Callable[[bytes], int], value: bytes) -> Callable[[Path, Path], None]:
    def make(src: Path, out: Path) -> None:
        data = bytearray(src.read_bytes())
        at = where(data)
        data[at : at + len(value)] = value
        out.write_bytes(bytes(data))

    return make


def _pixel_tag(data: bytes) -> int:
    return bytes(data).rindex(b"\xe0\x7f\x10\x00")


def _meta_end(data: bytes) -> int:
    return 144 + struct.unpack_from("<L", data, 140)[0]


def _deep(src: Path, out: Path) -> None:
    out.write_bytes(nest_sequences(src.read_bytes(), 3000))


def _codec(flag: str, damage: Callable[[bytearray], None]) -> Callable[[Path, Path], None]:
    def make(src: Path, out: Path) -> None:
        subprocess.run(["gdcmconv", flag, str(src), str(out)], check=True)
        data = bytearray(out.read_bytes())
        damage(data)
        out.write_bytes(bytes(data))

    return make


def _scramble_after_pixel(data: bytearray) -> None:
    p = _pixel_tag(data) + 40
    data[p : p + 200] = bytes((b * 37 + 11) % 256 for b in data[p : p + 200])


def _cut_fragment(data: bytearray) -> None:
    del data[len(data) - 300 :]


# name -> how to make the broken file from a good slice
CORPUS: dict[str, Callable[[Path, Path], None]] = {
    # truncations at every region
    "cut-preamble": _cut(lambda d: 64),
    "cut-dicm": _cut(lambda d: 130),
    "cut-meta": _cut(lambda d: 160),
    "cut-after-meta": _cut(_meta_end),
    "cut-dataset": _cut(lambda d: (_meta_end(d) + _pixel_tag(d)) // 2),
    "cut-pixel-header": _cut(lambda d: _pixel_tag(d) + 6),
    "cut-pixels": _cut(lambda d: _pixel_tag(d) + 12 + 100),
    "cut-last-byte": _cut(lambda d: len(d) - 1),
    "empty": _cut(lambda d: 0),
    # header lies
    "frames-2e6": _set(NumberOfFrames=2_000_000),
    "frames-1e9": _set(NumberOfFrames="1e9"),
    "frames-negative": _set(NumberOfFrames=-3),
    "rows-65535": _set(Rows=65535),
    "columns-1": _set(Columns=1),
    "bits-7": _set(BitsAllocated=7),
    "bits-stored-40": _set(BitsStored=40),
    "samples-3": _set(SamplesPerPixel=3),
    "slope-1e308": _set(RescaleSlope="1e308"),
    "slope-nan": _set(RescaleSlope="NaN"),
    "pixel-length-huge": _patch(lambda d: _pixel_tag(d) + 8, b"\xf0\xff\xff\x7f"),
    "element-length-huge": _patch(lambda d: _meta_end(d) + 4, b"OB\0\0\xf0\xff\xff\x7f"),
    "meta-length-huge": _patch(lambda d: 140, b"\xff\xff\xff\x7f"),
    "deep-sequences": _deep,
    # character sets
    "charset-unknown": _set(SpecificCharacterSet="ISO_IR 999", PatientName="Ab\x1b[31m"),
    "charset-2022-bad": _set(SpecificCharacterSet="ISO 2022 IR 87", PatientName="Yamada\x1b$B"),
    # geometry
    "position-nan": _set(ImagePositionPatient=["NaN", "0", "0"]),
    "position-1e300": _set(ImagePositionPatient=["0", "0", "1e300"]),
    "orientation-zero": _set(ImageOrientationPatient=[0, 0, 0, 0, 0, 0]),
    "orientation-skew": _set(ImageOrientationPatient=[1, 0, 0, 0.7, 0.7, 0]),
    "spacing-1e300": _set(PixelSpacing=["1e300", "1e300"]),
    "spacing-zero": _set(PixelSpacing=["0", "0"]),
    "spacing-negative": _set(PixelSpacing=["-1", "0.5"]),
    # compressed streams
    "j2k-scrambled": _codec("--j2k", _scramble_after_pixel),
    "j2k-cut": _codec("--j2k", _cut_fragment),
    "jpeg-scrambled": _codec("--jpeg", _scramble_after_pixel),
    "rle-scrambled": _codec("--rle", _scramble_after_pixel),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    """A folder with a good series (6 slices) and every broken file (made from a slice of
    another series), and a folder of bad zips. Returns (folder, broken files, zips)."""
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "mixed"
    write_ct_series(folder / "good", n_slices=GOOD_SLICES, series_number=1)
    donors = write_ct_series(root / "donor", n_slices=len(CORPUS), series_number=9, seed=5)
    broken = []
    for (name, make), src in zip(CORPUS.items(), donors, strict=True):
        out = folder / "broken" / f"{name}.dcm"
        out.parent.mkdir(parents=True, exist_ok=True)
        make(src, out)
        broken.append(out)
    zips = root / "zips"
    zips.mkdir()
    good = sorted((folder / "good").glob("*.dcm"))
    with zipfile.ZipFile(zips / "ok.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for f in good:
            zf.write(f, f"A/{f.name}")
    data = (zips / "ok.zip").read_bytes()
    (zips / "cut.zip").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    for k in range(200, 400):
        flipped[k] ^= 0x5A
    (zips / "flipped.zip").write_bytes(bytes(flipped))
    with zipfile.ZipFile(zips / "traversal.zip", "w") as zf:
        zf.write(good[0], "../../etc/IM.dcm")
        zf.write(good[1], "A/IM.dcm")
    (zips / "ok.zip").unlink()
    shutil.rmtree(root / "donor")
    return folder, broken, zips


def test_every_broken_file_alone_is_one_line(corpus: tuple[Path, list[Path], Path]) -> None:
    _, broken, _ = corpus
    for f in broken:
        r = capped("info", str(f))
        assert_handled(r)
        # 0/1: read (with problems reported); 2: nothing in it is an image, said in one line
        assert r.returncode in (0, 1, 2), (f.name, r.stderr)
        if r.returncode == 2:
            assert "no DICOM image series found" in r.stderr, (f.name, r.stderr)


def test_the_mixed_folder_through_every_command(
    corpus: tuple[Path, list[Path], Path], tmp_path: Path
) -> None:
    folder, _, _ = corpus
    info = capped("info", str(folder))
    assert_handled(info)
    assert f"CT volume 64x48x{GOOD_SLICES}" in info.stdout, info.stdout
    imp = capped("import", "--library", str(tmp_path / "lib"), str(folder))
    assert_handled(imp)
    assert f"{GOOD_SLICES + 0} imported" in imp.stdout or "imported" in imp.stdout, imp.stdout
    lst = capped("list", "--library", str(tmp_path / "lib"))
    assert_handled(lst)
    ex = capped("export", str(folder), "-o", str(tmp_path / "out"))
    assert_handled(ex)
    import nibabel as nib

    good = tmp_path / "out" / "1_generated_CT.nii.gz"  # series number 1: the good one
    assert good.exists(), (ex.stdout, ex.stderr)
    assert nib.load(good).shape == (64, 48, GOOD_SLICES)
    # the good series by its number in `info` (series are numbered by patient, study, number)
    number = re.search(r"\[(\d+)\] Series 1 generated CT: CT volume", info.stdout)
    assert number is not None, info.stdout
    rd = capped(
        "render",
        str(folder),
        "--series",
        number.group(1),
        "-o",
        str(tmp_path / "r.png"),
        "--size",
        "64x64",
        "--backend",
        "cpu",
    )
    assert_handled(rd)
    assert rd.returncode == 0 and (tmp_path / "r.png").exists(), rd.stderr
    # the good series is whole in the library
    from ownscan.core.library import open_library

    with open_library(tmp_path / "lib") as lib:
        counts = [
            s.images
            for p in lib.patients()
            for st in lib.studies(p.key)
            for s in lib.series(st.study_uid)
        ]
    assert GOOD_SLICES in counts, counts


def test_bad_zips(corpus: tuple[Path, list[Path], Path], tmp_path: Path) -> None:
    _, _, zips = corpus
    for z in sorted(zips.iterdir()):
        for args in (
            ["info", str(z)],
            ["import", "--library", str(tmp_path / z.stem), str(z)],
        ):
            r = capped(*args)
            assert_handled(r)
    r = capped("import", "--library", str(tmp_path / "t"), str(zips / "traversal.zip"))
    assert "1 imported" in r.stdout and "escape" in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.fixture(scope="module")
def discs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A good disc (DICOMDIR by dcmmkdir, ISO by genisoimage), then broken: a DICOMDIR cut
    short, a DICOMDIR with scrambled records, an ISO cut in half, an ISO with its directory
    records scrambled."""
    root = tmp_path_factory.mktemp("discs")
    disc = root / "disc"
    slices = write_ct_series(root / "src", n_slices=4)
    (disc / "DICOM").mkdir(parents=True)
    for n, f in enumerate(slices):
        shutil.copy(f, disc / "DICOM" / f"IM{n:06d}")
    subprocess.run(["dcmmkdir", "+r", "DICOM"], cwd=disc, check=True, capture_output=True)
    out = []
    for name, damage in (
        ("dicomdir-cut", lambda d: d[: len(d) // 2]),
        ("dicomdir-scrambled", lambda d: d[:400] + bytes(b ^ 0x33 for b in d[400:900]) + d[900:]),
    ):
        copy = root / name
        shutil.copytree(disc, copy)
        data = (copy / "DICOMDIR").read_bytes()
        (copy / "DICOMDIR").write_bytes(damage(data))
        out.append(copy)
    iso = root / "good.iso"
    subprocess.run(["genisoimage", "-quiet", "-R", "-o", str(iso), str(disc)], check=True)
    data = iso.read_bytes()
    (root / "cut.iso").write_bytes(data[: len(data) // 2])
    scrambled = bytearray(data)
    for k in range(18 * 2048, 20 * 2048):  # the path table and root directory records
        scrambled[k] ^= 0xA5
    (root / "scrambled.iso").write_bytes(bytes(scrambled))
    return [*out, root / "cut.iso", root / "scrambled.iso"]


def test_bad_discs(discs: list[Path], tmp_path: Path) -> None:
    for d in discs:
        for args in (["info", str(d)], ["import", "--library", str(tmp_path / d.name), str(d)]):
            r = capped(*args)
            assert_handled(r)
    # a DICOMDIR that cannot be used falls back to scanning the files, said out loud
    r = capped("info", str(discs[0]))
    assert "CT volume 64x48x4" in r.stdout, r.stdout + r.stderr
