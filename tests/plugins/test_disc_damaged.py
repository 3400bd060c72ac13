"""Damaged ISO images (issue #16): what pycdlib's strict checks refuse whole is recovered, file
by file, where a file's record and extent are sound, with a warning naming what was skipped.

The images are made by genisoimage (Rock Ridge + Joliet, plain ISO 9660) and xorriso from a
hospital disc made of the real head MR (tests/plugins/media_data.py), then damaged here: bits
flipped at random in the volume descriptors, path tables and folder records (seeded), and
chosen records broken by hand.
"""

from __future__ import annotations

import logging
import random
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from media_data import Disc, make_disc, run_tool

from ownscan.core.errors import ImportFailed
from ownscan.core.plugin_types import ImportOptions, SourceItem
from ownscan.plugins.disc import DiscImporter, _IsoMedium, _Refused

MAKERS = {
    "rockridge-joliet": ["genisoimage", "-quiet", "-R", "-J"],
    "plain": ["genisoimage", "-quiet"],
    "xorriso": None,
}
SERIES = "DICOM/ST000000/SE000000"


@pytest.fixture(scope="module")
def disc(
    tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path
) -> tuple[Disc, dict[str, Path]]:
    """A hospital disc (10 slices of the real head MR, 2 derived, an encapsulated PDF, a
    DICOMDIR by dcmmkdir, a viewer, a report) and its images."""
    for tool in ("genisoimage", "xorriso", "dcmmkdir"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (.ci/system-packages.txt)")
    root = tmp_path_factory.mktemp("damaged-disc")
    made = make_disc(root / "CDROM", sorted(mr_head_dir.iterdir())[:10], derived=2)
    isos = {}
    for name, cmd in MAKERS.items():
        iso = root / f"{name}.iso"
        if cmd is None:
            run_tool("xorriso", "-outdev", iso, "-map", made.root, "/", "-commit")
        else:
            run_tool(*cmd, "-o", iso, made.root)
        isos[name] = iso
    return made, isos


def _items(iso: Path) -> list[SourceItem]:
    return list(DiscImporter().iter_items(str(iso), ImportOptions()))


def _refused_by_pycdlib(iso: Path) -> bool:
    try:
        medium = _IsoMedium(iso)
    except _Refused:
        return True
    try:
        medium.files()
    except _Refused:
        return True
    finally:
        medium.close()
    return False


def _metadata_end(iso: Path) -> int:
    """Where the first file's data begins in the undamaged image: everything before is
    descriptors, path tables and folders."""
    medium = _IsoMedium(iso)
    try:
        return min(f.extent for f in medium.files()) * 2048
    finally:
        medium.close()


def _images(items: list[SourceItem], disc: Disc) -> dict[str, bytes]:
    """The disc's DICOM files among ``items``, by their key on the disc."""
    out = {}
    for i in items:
        key = i.origin.rsplit("!", 1)[1]
        if i.data is not None and key in disc.images:
            out[key] = i.data
    return out


@pytest.mark.parametrize("kind", list(MAKERS))
def test_bit_flipped_images_are_recovered(
    disc: tuple[Disc, dict[str, Path]], kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made, isos = disc
    originals = {p.read_bytes() for p in made.root.rglob("*") if p.is_file()}
    data = isos[kind].read_bytes()
    end = _metadata_end(isos[kind])
    rng = random.Random(16)
    refused = recovered = 0
    runs = 30
    for run in range(runs):
        flipped = bytearray(data)
        for _ in range(10):  # ten bits anywhere in the descriptors, path tables, folders
            flipped[rng.randrange(16 * 2048, end)] ^= 1 << rng.randrange(8)
        iso = tmp_path / f"{kind}-{run}.iso"
        iso.write_bytes(bytes(flipped))
        refused += _refused_by_pycdlib(iso)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            items = _items(iso)
        # a wrong file is worse than none: every file read is one of the disc's, byte for byte
        wrong = [i.origin for i in items if i.data is not None and i.data not in originals]
        assert not wrong, wrong
        images = _images(items, made)
        assert all(images[k] == made.images[k] for k in images)
        recovered += len(images)
        if len(images) < len(made.images):  # what could not be had is said
            problems = [i.problem for i in items if i.problem]
            assert "skipped" in caplog.text or problems, caplog.text
        iso.unlink()
    # the strict reader refuses most of these images whole; recovery keeps nearly everything
    assert refused >= runs // 3, refused
    assert recovered >= 0.9 * runs * len(made.images), recovered


def _record_offset(data: bytes, name: bytes) -> int:
    """Where the ISO 9660 folder record naming ``name`` begins (plain image)."""
    at = data.index(name + b".;1")  # genisoimage names a file without a suffix "NAME.;1"
    return at - 33


def test_a_record_broken_beyond_repair_is_skipped_by_name(
    disc: tuple[Disc, dict[str, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made, isos = disc
    data = bytearray(isos["plain"].read_bytes())
    at = _record_offset(bytes(data), b"IM000003")
    extent = struct.unpack_from("<I", data, at + 2)[0]
    # both copies of its extent point past the image: nothing can say where the file is
    struct.pack_into("<I", data, at + 2, extent + 10**6)
    struct.pack_into(">I", data, at + 6, extent + 2 * 10**6)
    # and the volume descriptor's signature damaged: pycdlib refuses the whole image
    data[16 * 2048 + 2] ^= 0x04
    iso = tmp_path / "broken.iso"
    iso.write_bytes(bytes(data))
    assert _refused_by_pycdlib(iso)
    with caplog.at_level(logging.WARNING):
        items = _items(iso)
    assert "the image is damaged" in caplog.text, caplog.text
    assert f"{SERIES}/IM000003: its extent is damaged" in caplog.text, caplog.text
    got = _images(items, made)
    assert set(made.images) - set(got) == {f"{SERIES}/IM000003"}
    assert all(got[k] == made.images[k] for k in got)
    # and the DICOMDIR's record of it says it is missing, one line for that file
    (missing,) = [i for i in items if i.problem]
    assert missing.origin.endswith("IM000003") and "not on the disc" in (missing.problem or "")


def _one_copy(data: bytearray) -> None:
    # ISO 9660 stores each extent twice: one flipped bit leaves the other copy, which fits
    at = _record_offset(bytes(data), b"IM000005")
    data[at + 5] ^= 0x40  # the little-endian copy's high byte: far outside the image
    data[16 * 2048 + 3] ^= 0x01  # and pycdlib refuses the image


def _no_root(data: bytearray) -> None:
    # both copies of the root's extent and length: the folders are found through the path
    # tables
    root = 16 * 2048 + 156
    data[root + 2 : root + 18] = b"\xff" * 16


@pytest.mark.parametrize("damage", [_one_copy, _no_root], ids=["one-copy", "no-root"])
def test_every_file_is_recovered(
    disc: tuple[Disc, dict[str, Path]], tmp_path: Path, damage: Callable[[bytearray], None]
) -> None:
    made, isos = disc
    data = bytearray(isos["plain"].read_bytes())
    damage(data)
    iso = tmp_path / "damaged.iso"
    iso.write_bytes(bytes(data))
    assert _refused_by_pycdlib(iso)
    assert _images(_items(iso), made) == made.images


def test_import_of_a_damaged_image_says_so_and_keeps_the_good_files(
    disc: tuple[Disc, dict[str, Path]], tmp_path: Path
) -> None:
    made, isos = disc
    data = bytearray(isos["rockridge-joliet"].read_bytes())
    end = _metadata_end(isos["rockridge-joliet"])
    rng = random.Random(3)
    for _ in range(10):
        data[rng.randrange(16 * 2048, end)] ^= 1 << rng.randrange(8)
    iso = tmp_path / "damaged.iso"
    iso.write_bytes(bytes(data))
    assert _refused_by_pycdlib(iso)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "ownscan.core.cli",
            "import",
            str(iso),
            "--library",
            str(tmp_path / "lib"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert "the image is damaged" in r.stderr and "recovered" in r.stderr, r.stderr
    # every DICOM file (the encapsulated PDF among them) and the PDF report
    assert f"{len(made.images)} imported, 1 document" in r.stdout, r.stdout
    assert "unreadable" not in r.stdout + r.stderr


def test_not_an_image_at_all_is_still_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "zeros.iso"
    bad.write_bytes(b"\0" * 100_000)
    with pytest.raises(ImportFailed, match=r"zeros\.iso: not a readable ISO 9660 image"):
        _items(bad)
