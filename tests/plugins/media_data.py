"""Helpers for the media tests: building DICOM media with real tools, writing raw zips.

The session fixtures are here too, named with ``name=``: a test module imports
``pdi_disc_fixture`` and asks for ``pdi_disc`` (no conftest.py, so that this folder's conftest
stays free for other plugins' fixtures). Each is built once per session whichever module asks.

The DICOM files are real (the shared head MR) rewritten by dcmtk's ``dcmconv`` to explicit VR
little endian (what a General Purpose CD-R holds); a second series and an Encapsulated PDF are
derived with pydicom. The DICOMDIR is dcmtk's ``dcmmkdir``; the images are ``genisoimage`` (with
and without Joliet, with Rock Ridge) and ``xorriso``. A missing tool fails the tests: CI has them.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MINI_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
FAKE_EXE = b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."
JPEG_PREVIEW = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 300 + b"\xff\xd9"


def run_tool(*args: str | Path, cwd: Path | None = None) -> None:
    """Run a Debian tool; fail (never skip) when it is missing or fails."""
    exe = shutil.which(str(args[0]))
    assert exe is not None, f"{args[0]} is not installed (CI installs it: .ci/system-packages.txt)"
    proc = subprocess.run(
        [exe, *map(str, args[1:])], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr or proc.stdout}"


@dataclass(frozen=True)
class Disc:
    """A PDI disc folder and what it holds."""

    root: Path
    images: dict[str, bytes]  # "DICOM/ST000000/SE000000/IM000000" -> file bytes (DICOM)
    uids: dict[str, str]  # same key -> SOP Instance UID
    series: dict[str, set[str]]  # Series Instance UID -> keys
    pdf_key: str  # the Encapsulated PDF instance
    report: bytes  # REPORT.PDF on the disc


def derive_instance(src: Path, dst: Path, series_uid: str, number: int, index: int) -> None:
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(src)
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = number
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = index + 1
    ds.save_as(dst, enforce_file_format=True)


def encapsulated_pdf(like: Path, dst: Path) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ref = pydicom.dcmread(like, stop_before_pixels=True)
    ds = Dataset()
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "ReferringPhysicianName",
    ):
        setattr(ds, kw, ref.get(kw, ""))
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"  # Encapsulated PDF Storage
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DOC"
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.ContentDate = ref.StudyDate
    ds.ContentTime = ref.StudyTime
    ds.AcquisitionDateTime = ref.StudyDate + ref.StudyTime
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "Radiology report"
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = MINI_PDF + b"\n" * (len(MINI_PDF) % 2)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(dst, enforce_file_format=True)


def make_disc(root: Path, sources: list[Path], derived: int = 3) -> Disc:
    """Burn ``root`` as a PDI disc: ``sources`` (made explicit VR by dcmconv) as one series,
    ``derived`` of them again as a second series, an Encapsulated PDF, a DICOMDIR by dcmmkdir,
    and a viewer, AUTORUN.INF, an HTML page and a PDF report beside them."""
    from pydicom.uid import generate_uid

    study = root / "DICOM" / "ST000000"
    first = study / "SE000000"
    first.mkdir(parents=True)
    for i, src in enumerate(sources):
        run_tool("dcmconv", "+te", src, first / f"IM{i:06d}")
    second = study / "SE000001"
    second.mkdir()
    uid = generate_uid()
    for i, src in enumerate(sorted(first.iterdir())[:derived]):
        derive_instance(src, second / f"IM{i:06d}", uid, 402, i)
    docs = study / "SE000002"
    docs.mkdir()
    encapsulated_pdf(first / "IM000000", docs / "IM000000")
    run_tool("dcmmkdir", "+r", "DICOM", cwd=root)

    (root / "AUTORUN.INF").write_text("[autorun]\r\nopen=VIEWER\\VIEWER.EXE\r\n")
    (root / "VIEWER").mkdir()
    (root / "VIEWER" / "VIEWER.EXE").write_bytes(FAKE_EXE)
    (root / "VIEWER" / "DCMLIB.DLL").write_bytes(FAKE_EXE)
    (root / "INDEX.HTM").write_text("<html><body>Patient CD</body></html>\n")
    (root / "REPORT.PDF").write_bytes(MINI_PDF)

    import pydicom

    images, uids, series = {}, {}, {}
    for f in sorted((root / "DICOM").rglob("*")):
        if f.is_file():
            key = f.relative_to(root).as_posix()
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            images[key] = f.read_bytes()
            uids[key] = str(ds.SOPInstanceUID)
            series.setdefault(str(ds.SeriesInstanceUID), set()).add(key)
    return Disc(root, images, uids, series, "DICOM/ST000000/SE000002/IM000000", MINI_PDF)


def make_isos(out: Path, root: Path) -> dict[str, Path]:
    """``root`` as ISO images: genisoimage plain / Joliet / Rock Ridge / UDF bridge, xorriso."""
    made = {
        "iso9660": ("genisoimage", "-quiet", "-V", "PATIENT_CD"),
        "joliet": ("genisoimage", "-quiet", "-J", "-V", "PATIENT_CD"),
        "rockridge": ("genisoimage", "-quiet", "-R", "-V", "PATIENT_CD"),
        "udf-bridge": ("genisoimage", "-quiet", "-udf", "-J", "-V", "PATIENT_DVD"),
    }
    paths = {}
    for name, cmd in made.items():
        paths[name] = out / f"{name}.iso"
        run_tool(*cmd, "-o", paths[name], root)
    paths["xorriso"] = out / "xorriso.iso"
    run_tool("xorriso", "-outdev", paths["xorriso"], "-map", root, "/", "-commit")
    return paths


# ---------------------------------------------------------------------------------------------
# Zips written by hand where Python's zipfile cannot (names without the UTF-8 flag, bombs)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawMember:
    """A member for :func:`write_raw_zip`: raw name bytes, deflated data and what it claims."""

    name: bytes
    deflated: bytes
    crc: int
    size: int
    flags: int = 0
    extra: bytes = b""
    method: int = 8  # deflate


def write_raw_zip(path: Path, members: list[RawMember]) -> None:
    """Write a zip (deflate, no zip64) exactly as told, streamed to ``path``."""
    central = []
    with path.open("wb") as f:
        for m in members:
            offset = f.tell()
            head = struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.deflated),
                m.size,
                len(m.name),
                len(m.extra),
            )
            f.write(head + m.name + m.extra + m.deflated)
            central.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    20,
                    20,
                    m.flags,
                    m.method,
                    0,
                    0x21,
                    m.crc,
                    len(m.deflated),
                    m.size,
                    len(m.name),
                    len(m.extra),
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + m.name
                + m.extra
            )
        start = f.tell()
        cd = b"".join(central)
        f.write(cd)
        f.write(
            struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), start, 0
            )
        )


def deflate_member(name: bytes, data: bytes, flags: int = 0, extra: bytes = b"") -> RawMember:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return RawMember(name, c.compress(data) + c.flush(), zlib.crc32(data), len(data), flags, extra)


def zeros_member(name: bytes, size: int, declared: int | None = None) -> RawMember:
    """``size`` zero bytes deflated without ever holding them: 1 GiB costs about 1 MB."""
    block = bytes(1 << 24)
    assert size % len(block) == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)  # identical for every block
    n = size // len(block)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    return RawMember(name, piece * n + c.flush(), crc, size if declared is None else declared)


# ---------------------------------------------------------------------------------------------
# Session fixtures (built once, whichever test module imports them first)
# ---------------------------------------------------------------------------------------------
_BUILT: dict[str, Any] = {}


@pytest.fixture(scope="session", name="pdi_disc")
def pdi_disc_fixture(tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path) -> Disc:
    """A disc as hospitals burn it: DICOMDIR (dcmmkdir), viewer, AUTORUN.INF, HTML, PDF."""
    if "disc" not in _BUILT:
        root = tmp_path_factory.mktemp("pdi") / "CDROM"
        _BUILT["disc"] = make_disc(root, sorted(mr_head_dir.iterdir())[:4])
    disc: Disc = _BUILT["disc"]
    return disc


@pytest.fixture(scope="session", name="disc_images")
def disc_images_fixture(
    tmp_path_factory: pytest.TempPathFactory, pdi_disc: Disc
) -> dict[str, Path]:
    """The disc as ISO images: genisoimage plain / Joliet / Rock Ridge / UDF bridge, xorriso."""
    if "isos" not in _BUILT:
        _BUILT["isos"] = make_isos(tmp_path_factory.mktemp("iso"), pdi_disc.root)
    isos: dict[str, Path] = _BUILT["isos"]
    return isos
