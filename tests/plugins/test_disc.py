"""The disc importer on media made by dcmtk, genisoimage and xorriso."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pydicom
import pytest
from media_data import MINI_PDF, Disc, disc_images_fixture, pdi_disc_fixture, run_tool  # noqa: F401 (fixtures)
from pydicom.fileset import FileSet

from ownscan.core.errors import ImportFailed
from ownscan.core.plugin_host import PluginHost
from ownscan.core.plugin_types import DICOM, ImportOptions, SourceItem
from ownscan.plugins.disc import DiscImporter, is_iso_image, read_dicomdir

IMPORTER = DiscImporter()


def _items(source: Path | str, options: ImportOptions | None = None) -> list[SourceItem]:
    return list(IMPORTER.iter_items(str(source), options or ImportOptions()))


def _key(origin: str) -> str:
    """``disc.iso!DICOM/ST000000/...`` or ``/x/CDROM/DICOM/...`` -> ``DICOM/ST000000/...``."""
    tail = origin.split("!", 1)[1] if "!" in origin else origin
    parts = tail.replace("\\", "/").split("/")
    if "DICOM" in parts:
        return "/".join(parts[parts.index("DICOM") :])
    return parts[-1]


def _check_disc_items(items: list[SourceItem], disc: Disc, on_disk: bool) -> None:
    dicom = [i for i in items if i.media_type == DICOM]
    assert not [i for i in items if i.problem], [i.problem for i in items if i.problem]
    assert {_key(i.origin) for i in dicom} == set(disc.images)
    for item in dicom:  # the exact bytes of each file
        assert item.read_bytes() == disc.images[_key(item.origin)]
        assert (item.path is not None) == on_disk
        assert (item.data is not None) == (not on_disk)
    pdfs = [i for i in items if i.media_type == "application/pdf"]
    assert [_key(i.origin) for i in pdfs] == ["REPORT.PDF"]
    assert pdfs[0].read_bytes() == MINI_PDF
    assert len(items) == len(disc.images) + 1  # no viewer, HTML, AUTORUN.INF or DICOMDIR


# ---------------------------------------------------------------------------------------------
# Claiming
# ---------------------------------------------------------------------------------------------
def test_claims_disc_folder_dicomdir_and_images(pdi_disc: Disc, disc_images, tmp_path):
    assert IMPORTER.claims(str(pdi_disc.root))
    assert IMPORTER.claims(str(pdi_disc.root / "DICOMDIR"))
    for iso in disc_images.values():
        assert is_iso_image(iso)
        assert IMPORTER.claims(str(iso))
    renamed = tmp_path / "disc.img"  # an image without the .iso suffix: by its signature
    renamed.symlink_to(disc_images["joliet"])
    assert IMPORTER.claims(str(renamed))
    assert not IMPORTER.claims(str(pdi_disc.root / "DICOM"))  # no DICOMDIR there
    assert not IMPORTER.claims(str(pdi_disc.root / "REPORT.PDF"))
    assert not IMPORTER.claims(str(tmp_path / "missing.iso"))
    assert not IMPORTER.claims("https://pacs.example/dicom-web")


def test_host_picks_disc_over_folder(pdi_disc: Disc, disc_images):
    host = PluginHost()
    assert host.find_importer(str(pdi_disc.root)).name == "disc"
    assert host.find_importer(str(disc_images["iso9660"])).name == "disc"
    assert host.find_importer(str(pdi_disc.root / "DICOM")).name == "folder"


# ---------------------------------------------------------------------------------------------
# Reading what independent tools wrote
# ---------------------------------------------------------------------------------------------
def test_disc_folder(pdi_disc: Disc):
    _check_disc_items(_items(pdi_disc.root), pdi_disc, on_disk=True)


def test_dicomdir_path(pdi_disc: Disc):
    _check_disc_items(_items(pdi_disc.root / "DICOMDIR"), pdi_disc, on_disk=True)


@pytest.mark.parametrize("kind", ["iso9660", "joliet", "rockridge", "udf-bridge", "xorriso"])
def test_iso_images_read_in_place(pdi_disc: Disc, disc_images, kind: str):
    items = _items(disc_images[kind])
    _check_disc_items(items, pdi_disc, on_disk=False)
    assert all(i.origin.startswith(f"{disc_images[kind]}!") for i in items)
    assert not any(";" in i.origin for i in items)  # ISO 9660 versions are not shown


def test_dicomdir_structure_matches_pydicom_fileset(pdi_disc: Disc):
    """Our offset walk gives what pydicom's FileSet gives, and what the files themselves say."""
    index = read_dicomdir((pdi_disc.root / "DICOMDIR").read_bytes())
    fs = FileSet(pdi_disc.root / "DICOMDIR")
    # FileSet keeps a staging TemporaryDirectory for edits; remove it now rather than leave it
    # to the garbage collector (a ResourceWarning, an error under filterwarnings=error).
    fs._stage["t"].cleanup()
    ours = {"/".join(e.file_id): e for e in index.entries}
    theirs = {Path(inst.path).relative_to(pdi_disc.root).as_posix(): inst for inst in fs}
    assert set(ours) == set(theirs) == set(pdi_disc.images)
    for key, entry in ours.items():
        inst = theirs[key]
        assert entry.sop_instance_uid == inst.SOPInstanceUID == pdi_disc.uids[key]
        assert entry.series_instance_uid == inst.SeriesInstanceUID
        assert entry.study_instance_uid == inst.StudyInstanceUID
        ds = pydicom.dcmread(pdi_disc.root / key, stop_before_pixels=True)
        assert entry.patient_id == ds.PatientID
        assert entry.modality == ds.Modality
        assert entry.sop_class_uid == ds.SOPClassUID
    assert {uid: set(map(str, keys)) for uid, keys in pdi_disc.series.items()} == {
        uid: {"/".join(e.file_id) for e in entries} for uid, entries in index.series().items()
    }
    assert ours[pdi_disc.pdf_key].record_type == "ENCAP DOC"
    assert {e.record_type for k, e in ours.items() if k != pdi_disc.pdf_key} == {"IMAGE"}
    assert not index.notes


def test_known_instances_are_not_read(pdi_disc: Disc, disc_images):
    held = {pdi_disc.uids[k] for k in sorted(pdi_disc.images)[:3]}
    options = ImportOptions(known_instance=held.__contains__)
    for source in (pdi_disc.root, disc_images["joliet"]):
        items = _items(source, options)
        got = {_key(i.origin) for i in items if i.media_type == DICOM}
        assert got == set(pdi_disc.images) - set(sorted(pdi_disc.images)[:3])


def test_mounted_with_lower_case_names(pdi_disc: Disc, tmp_path):
    """A Joliet disc mounted on Linux may show dicom/st000000/...: records still resolve."""
    root = tmp_path / "mnt"
    for f in pdi_disc.root.rglob("*"):
        if f.is_file():
            dst = root / f.relative_to(pdi_disc.root).as_posix().lower()
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst)
    assert IMPORTER.claims(str(root))
    items = _items(root)
    assert not [i for i in items if i.problem]
    assert len([i for i in items if i.media_type == DICOM]) == len(pdi_disc.images)


# ---------------------------------------------------------------------------------------------
# Damaged discs: fall back to scanning, and say so
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def disc_copy(pdi_disc: Disc, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(pdi_disc.root, root)
    return root


def test_missing_referenced_file_is_reported_and_the_rest_imported(
    pdi_disc: Disc, disc_copy: Path, caplog
):
    gone = "DICOM/ST000000/SE000000/IM000002"
    (disc_copy / gone).unlink()
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    problems = [i for i in items if i.problem]
    assert [(_key(i.origin), i.problem) for i in problems] == [
        (gone, "listed in the DICOMDIR but not on the disc")
    ]
    dicom = {_key(i.origin) for i in items if i.media_type == DICOM and not i.problem}
    assert dicom == set(pdi_disc.images) - {gone}
    assert "1 file(s) listed in the DICOMDIR are missing" in caplog.text


def test_unlisted_dicom_file_is_imported_too(pdi_disc: Disc, disc_copy: Path, caplog):
    extra = disc_copy / "DICOM" / "EXTRA" / "IM000009"
    extra.parent.mkdir()
    shutil.copyfile(disc_copy / "DICOM/ST000000/SE000000/IM000000", extra)
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    assert "DICOM/EXTRA/IM000009" in {_key(i.origin) for i in items if i.media_type == DICOM}
    assert "1 DICOM file(s) on the disc are not listed in its DICOMDIR" in caplog.text


def _shift_first_offset(raw: bytes, by: int) -> bytes:
    """Make the first root record offset (0004,1200) point into the middle of a record."""
    tag = b"\x04\x00\x00\x12UL\x04\x00"  # explicit VR little endian, as dcmmkdir writes
    at = raw.index(tag) + len(tag)
    value = int.from_bytes(raw[at : at + 4], "little")
    return raw[:at] + (value + by).to_bytes(4, "little") + raw[at + 4 :]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:300], id="truncated"),
        pytest.param(lambda b: b"garbage" * 50, id="not-dicom"),
        pytest.param(lambda b: _shift_first_offset(b, 2), id="bad-offset"),
    ],
)
def test_broken_dicomdir_falls_back_to_scanning(pdi_disc: Disc, disc_copy: Path, caplog, damage):
    path = disc_copy / "DICOMDIR"
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    assert "cannot be used" in caplog.text and "scanning every file instead" in caplog.text
    dicom = {_key(i.origin) for i in items if i.media_type == DICOM}
    assert dicom == set(pdi_disc.images)  # viewer, HTML, INF and the DICOMDIR are not offered
    assert [_key(i.origin) for i in items if i.media_type == "application/pdf"] == ["REPORT.PDF"]


def test_huge_dicomdir_is_not_read(pdi_disc: Disc, disc_copy: Path, caplog):
    with (disc_copy / "DICOMDIR").open("r+b") as f:
        f.truncate(300 << 20)  # sparse: costs no disk
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    assert "is far too large for a DICOMDIR" in caplog.text
    assert {_key(i.origin) for i in items if i.media_type == DICOM} == set(pdi_disc.images)


def test_iso_without_dicomdir_is_scanned(pdi_disc: Disc, tmp_path, caplog):
    root = tmp_path / "nodir"
    shutil.copytree(pdi_disc.root, root)
    (root / "DICOMDIR").unlink()

    iso = tmp_path / "nodir.iso"
    run_tool("genisoimage", "-quiet", "-J", "-o", iso, root)
    with caplog.at_level(logging.WARNING):
        items = _items(iso)
    assert "no DICOMDIR on this disc; scanning every file instead" in caplog.text
    assert {_key(i.origin) for i in items if i.media_type == DICOM} == set(pdi_disc.images)


def test_dicomdir_by_gdcm_with_ids_relative_to_another_folder(
    pdi_disc: Disc, disc_copy: Path, caplog
):
    """gdcmgendir (a second independent writer) makes IDs relative to its input folder."""
    (disc_copy / "DICOMDIR").unlink()
    run_tool("gdcmgendir", "-i", "DICOM", "-o", "DICOMDIR", "-r", cwd=disc_copy)
    assert read_dicomdir((disc_copy / "DICOMDIR").read_bytes()).entries[0].file_id[0] != "DICOM"
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    _check_disc_items(items, pdi_disc, on_disk=True)
    n = len(pdi_disc.images)
    assert f"{n} file(s) found in another folder than the DICOMDIR says" in caplog.text


def test_dicomdir_of_another_layout_falls_back_to_scanning(pdi_disc: Disc, disc_copy, caplog):
    (disc_copy / "DICOM").rename(disc_copy / "IMAGES")
    with caplog.at_level(logging.WARNING):
        items = _items(disc_copy)
    n = len(pdi_disc.images)
    assert f"none of the {n} files its DICOMDIR lists is on the disc" in caplog.text
    assert not [i for i in items if i.problem]
    assert len([i for i in items if i.media_type == DICOM]) == n


def test_symbolic_links_on_a_disc_image_are_not_followed(pdi_disc: Disc, tmp_path):
    root = tmp_path / "linked"
    shutil.copytree(pdi_disc.root, root)
    (root / "DICOM" / "PASSWD").symlink_to("/etc/passwd")
    iso = tmp_path / "linked.iso"
    run_tool("xorriso", "-outdev", iso, "-map", root, "/", "-commit")
    items = _items(iso)
    # named as skipped, with its target, never read (SourceItem.skip)
    skipped = [i for i in items if i.skip is not None]
    assert [(_key(i.origin), i.skip) for i in skipped] == [
        ("DICOM/PASSWD", "a symbolic link on the disc (to '/etc/passwd'); not followed")
    ]
    assert skipped[0].data is None and skipped[0].path is None
    _check_disc_items([i for i in items if i.skip is None], pdi_disc, on_disk=False)


def test_file_id_climbing_out_is_refused(pdi_disc: Disc, disc_copy: Path):
    path = disc_copy / "DICOMDIR"
    raw = path.read_bytes()
    good = b"DICOM\\ST000000\\SE000000\\IM000001"
    evil = b"..\\..\\..\\..\\..\\..\\etc\\passwd\\xyz"
    assert len(good) == len(evil) and raw.count(good) == 1
    path.write_bytes(raw.replace(good, evil))
    items = _items(disc_copy)
    problems = [i for i in items if i.problem]
    assert len(problems) == 1 and "leaves the disc folder; refused" in (problems[0].problem or "")
    assert len([i for i in items if i.media_type == DICOM and not i.problem]) == len(
        pdi_disc.images
    )  # the refused record's file is still found, as a file the DICOMDIR does not list


def test_truncated_image_download(pdi_disc: Disc, disc_images, tmp_path, caplog):
    """An interrupted download: what is complete is read, the rest is reported per file."""
    whole = disc_images["joliet"].read_bytes()
    cut = tmp_path / "partial.iso"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with caplog.at_level(logging.WARNING):
        items = _items(cut)
    assert f"partial.iso: the image is incomplete ({len(whole) * 2 // 3} of" in caplog.text
    good = [i for i in items if i.data is not None and i.media_type == DICOM]
    bad = [i for i in items if i.problem]
    assert good and bad
    assert all("truncated: the image ends inside this file" in (i.problem or "") for i in bad)
    for item in good:
        assert item.data == pdi_disc.images[_key(item.origin)]


def test_not_an_iso_image(tmp_path):
    bad = tmp_path / "broken.iso"
    bad.write_bytes(b"\x00" * 40000)
    with pytest.raises(ImportFailed, match=r"broken\.iso: not a readable ISO 9660 image"):
        _items(bad)
