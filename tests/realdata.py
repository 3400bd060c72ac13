"""The project's own real test data, for tests and benchmarks: nothing beside the repository.

Two sets, both public:

- pydicom's test files (the ``pydicom-data`` package from PyPI, a dev dependency): found with
  ``pydicom.data.get_testdata_file(name, download=False)``, which looks in pydicom's own
  ``test_files`` and then in the installed ``pydicom-data`` package (checking each file against
  pydicom's ``hashes.json``) and, with ``download=False``, never goes to the network.
- the studyforrest T1-weighted head MR (384 single-frame images, PDDL licence), committed under
  ``tests/data/studyforrest-t1w/`` in a compact lossless form and restored byte for byte.

How the head MR is kept (``tests/data/README.md`` has the measurements that chose this form):
every original file is its header bytes followed by its pixel data, the last element, whose value
is exactly ``rows * columns * 2`` bytes. ``headers.tar.xz`` holds each file's header bytes (every
byte before the pixel data's value, under the file's name); ``pixels-jpegls.dcm`` holds the 384
pixel data values, in the order of ``SHA256SUMS``, as the frames of one multi-frame image
compressed with lossless JPEG-LS by GDCM. Restoring decompresses that image with ``gdcmconv --raw``
(Debian ``libgdcm-tools``, which CI installs), joins each header to its frame and checks the
result against the SHA-256 of the original file, so the tests read exactly the published files.

Run as a script to restore the series into a folder, or to pack it again from the originals::

    python tests/realdata.py restore OUT_FOLDER
    python tests/realdata.py pack ORIGINAL_DICOMS_FOLDER
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = ["MR_HEAD_DATA", "PYDICOM_FILES", "pack_mr_head", "pydicom_file", "restore_mr_head"]

MR_HEAD_DATA = Path(__file__).resolve().parent / "data" / "studyforrest-t1w"
_HEADERS = "headers.tar.xz"
_PIXELS = "pixels-jpegls.dcm"
_SUMS = "SHA256SUMS"

# The selection of pydicom's test files the tests read: one or more of every codec, colour space
# and oddity ownscan meets (tests/data/README.md says what each one exercises).
PYDICOM_FILES = (
    "JPEG-LL.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "OBXXXX1A_rle.dcm",
    "RG1_J2KI.dcm",
    "RG1_UNCR.dcm",
    "SC_rgb.dcm",
    "SC_ybr_full_uncompressed.dcm",
    "US1_J2KI.dcm",
    "US1_UNCR.dcm",
    "bad_sequence.dcm",
    "color3d_jpeg_baseline.dcm",
    "explicit_VR-UN.dcm",
    "gdcm-US-ALOKA-16.dcm",
    "liver.dcm",
    "mlut_18.dcm",
    "vlut_04.dcm",
)


def pydicom_file(name: str) -> Path:
    """The installed copy of one of pydicom's test files, never a download.

    Parameters
    ----------
    name : str
        The file name, e.g. ``"JPEG-LL.dcm"``.

    Returns
    -------
    Path
        The file inside the installed ``pydicom`` or ``pydicom-data`` package.

    Raises
    ------
    FileNotFoundError
        If no installed package holds the file (or its hash differs from pydicom's record).
    """
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name, download=False)
    if not isinstance(found, str):
        raise FileNotFoundError(
            f"pydicom test file {name!r} not installed: pip install -e '.[dev]' (pydicom-data)"
        )
    return Path(found)


def _gdcmconv(*args: str | Path) -> None:
    exe = shutil.which("gdcmconv")
    if exe is None:
        raise RuntimeError(
            f"gdcmconv is not installed (Debian libgdcm-tools): it restores {MR_HEAD_DATA}"
        )
    done = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gdcmconv {args[0]} {args[1]} failed: {done.stderr.strip()}")


def _sums(folder: Path) -> list[tuple[str, str]]:
    """(name, sha256) per original file, in frame order, from ``SHA256SUMS`` (sha256sum format)."""
    out = []
    for line in (folder / _SUMS).read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        out.append((name.lstrip("*"), digest))
    return out


def restore_mr_head(dest: Path, data: Path = MR_HEAD_DATA) -> Path:
    """Restore the head MR series, byte for byte, into the new folder ``dest``.

    Parameters
    ----------
    dest : Path
        A folder that does not exist yet; it receives the 384 ``.dcm`` files and nothing else.
    data : Path
        The compact form (``headers.tar.xz``, ``pixels-jpegls.dcm``, ``SHA256SUMS``).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    RuntimeError
        If gdcmconv is missing, the compact form is damaged, or a restored file differs from the
        original's SHA-256 (the message names the file).
    """
    import pydicom

    sums = _sums(data)
    with tarfile.open(data / _HEADERS, "r:xz") as tar:
        headers = {}
        for member in tar.getmembers():
            f = tar.extractfile(member)
            if f is None:
                raise RuntimeError(f"{data / _HEADERS}: {member.name} is not a file")
            headers[member.name] = f.read()
    if set(headers) != {name for name, _ in sums}:
        raise RuntimeError(f"{data / _HEADERS} and {data / _SUMS} name different files")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "pixels-raw.dcm"
        _gdcmconv("--raw", data / _PIXELS, raw)
        pixels = pydicom.dcmread(raw).PixelData
    frame, rest = divmod(len(pixels), len(sums))
    if rest:
        raise RuntimeError(f"{data / _PIXELS}: {len(pixels)} bytes is not {len(sums)} frames")
    dest.mkdir(parents=True)
    for i, (name, digest) in enumerate(sums):
        content = headers[name] + pixels[i * frame : (i + 1) * frame]
        if hashlib.sha256(content).hexdigest() != digest:
            raise RuntimeError(f"{data}: restored {name} differs from the original (SHA-256)")
        path = dest / name
        path.write_bytes(content)
        path.chmod(0o444)  # read-only, like the published data: a test must never change it
    return dest


def pack_mr_head(src: Path, data: Path = MR_HEAD_DATA) -> None:
    """Write the compact form of the original series in ``src`` into ``data`` (see the module).

    Parameters
    ----------
    src : Path
        The folder of the original single-frame files (all of one size, pixel data last).
    data : Path
        Where ``headers.tar.xz``, ``pixels-jpegls.dcm`` and ``SHA256SUMS`` are written.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    files = sorted(p for p in src.iterdir() if p.is_file())
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    rows, cols = int(first.Rows), int(first.Columns)
    frame = rows * cols * 2
    headers, frames, sums = [], [], []
    for p in files:
        content = p.read_bytes()
        ds = pydicom.dcmread(io.BytesIO(content))
        last = list(ds.keys())[-1]
        # the split below is only right if the pixel data is the last element and fills the end
        if last != 0x7FE00010 or len(ds.PixelData) != frame or not content.endswith(ds.PixelData):
            raise ValueError(f"{p}: pixel data is not the last {frame} bytes")
        headers.append((p.name, content[:-frame]))
        frames.append(content[-frame:])
        sums.append(f"{hashlib.sha256(content).hexdigest()}  {p.name}\n")

    data.mkdir(parents=True, exist_ok=True)
    with tarfile.open(data / _HEADERS, "w:xz", preset=9) as tar:
        for name, header in headers:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(header), 0o444  # no time or owner: the archive repeats
            tar.addfile(info, io.BytesIO(header))
    (data / _SUMS).write_text("".join(sums))

    # the frames as opaque 16-bit words: a multi-frame secondary capture GDCM can compress
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"  # MF grayscale word SC
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["".join(sums)])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.ImageComments = "ownscan test data: the pixel data of each file of SHA256SUMS, in order"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, len(files)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = b"".join(frames)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "pixels-raw.dcm"
        ds.save_as(raw, enforce_file_format=True)
        _gdcmconv("--jpegls", raw, data / _PIXELS)


def main(argv: list[str]) -> int:
    """``restore OUT`` or ``pack SRC``: see the module docstring."""
    if len(argv) != 2 or argv[0] not in ("restore", "pack"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "restore":
        print(restore_mr_head(Path(argv[1])))
    else:
        pack_mr_head(Path(argv[1]))
        for name in (_HEADERS, _PIXELS, _SUMS):
            print(f"{os.path.getsize(MR_HEAD_DATA / name):>10}  {MR_HEAD_DATA / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
