"""The disc and zip importers name what they deliberately do not read (``SourceItem.skip``), as
the folder importer does: a FIFO, a device or a dangling link on a disc folder, a Rock Ridge
link or FIFO in a disc image, a symbolic link that stays inside a zip. The import then says
each as skipped, with why, and nothing of it is opened; a link out of a zip stays refused.
Series assembly (``info``) says such items are skipped, never "damaged".

Real media: the PDI disc made by dcmtk (media_data), images made by xorriso, zips by Python's
zipfile with Unix modes, the real command in-process."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from media_data import Disc, pdi_disc_fixture, run_tool  # noqa: F401 (fixtures)

from ownscan.core.cli import main
from ownscan.core.plugin_types import DICOM, ImportOptions
from ownscan.plugins.disc import DiscImporter
from ownscan.plugins.portal_zip import PortalZipImporter

FIFO = "not a regular file (a FIFO); not opened"  # core's walk, as the folder importer says


def _key(origin: str, root: Path) -> str:
    return origin.split("!", 1)[1] if "!" in origin else Path(origin).relative_to(root).as_posix()


def _disc_with_oddities(pdi_disc: Disc, root: Path) -> str:
    """The disc copied, one image its DICOMDIR lists replaced by a FIFO, a dangling link and a
    link to a device beside the images; the key of the image made a FIFO."""
    shutil.copytree(pdi_disc.root, root)
    gone = sorted(pdi_disc.images)[1]
    (root / gone).unlink()
    os.mkfifo(root / gone)  # opening it would wait forever
    (root / "DICOM" / "GONE").symlink_to("nowhere")
    (root / "DICOM" / "ZERO").symlink_to("/dev/zero")  # reading it would never end
    return gone


def test_a_disc_folder_names_what_it_does_not_read(pdi_disc: Disc, tmp_path: Path) -> None:
    root = tmp_path / "CDROM"
    gone = _disc_with_oddities(pdi_disc, root)
    items = list(DiscImporter().iter_items(str(root), ImportOptions()))
    skipped = {_key(i.origin, root): i.skip for i in items if i.skip is not None}
    assert set(skipped) == {gone, "DICOM/GONE", "DICOM/ZERO"}
    assert skipped[gone] == FIFO  # listed by the DICOMDIR, there, but not a file: not "missing"
    assert skipped["DICOM/ZERO"] == "not a regular file (a device); not opened"
    assert str(skipped["DICOM/GONE"]).startswith("a link that leads to no file")
    assert not [i for i in items if i.problem], [i.problem for i in items if i.problem]
    for i in items:
        if i.skip is not None:
            assert i.path is None and i.data is None
    dicom = {_key(i.origin, root) for i in items if i.skip is None and i.media_type == DICOM}
    assert dicom == set(pdi_disc.images) - {gone}


def test_a_rock_ridge_image_names_its_links_and_fifos(pdi_disc: Disc, tmp_path: Path) -> None:
    root = tmp_path / "CDROM"
    gone = _disc_with_oddities(pdi_disc, root)
    (root / "DICOM" / "PASSWD").symlink_to("/etc/passwd")
    iso = tmp_path / "disc.iso"
    run_tool("xorriso", "-outdev", iso, "-map", root, "/", "-commit")  # Rock Ridge, specials kept
    items = list(DiscImporter().iter_items(str(iso), ImportOptions()))
    skipped = {_key(i.origin, root): i.skip for i in items if i.skip is not None}
    link = "a symbolic link on the disc (to {!r}); not followed"
    assert skipped == {
        gone: "not a regular file (a FIFO); not read",
        "DICOM/GONE": link.format("nowhere"),
        "DICOM/ZERO": link.format("/dev/zero"),
        "DICOM/PASSWD": link.format("/etc/passwd"),
    }
    assert not [i for i in items if i.problem], [i.problem for i in items if i.problem]
    dicom = {_key(i.origin, root): i for i in items if i.skip is None and i.media_type == DICOM}
    assert set(dicom) == set(pdi_disc.images) - {gone}
    for key, item in dicom.items():  # the exact bytes of each image read
        assert item.data == pdi_disc.images[key]


def test_importing_the_image_says_each_skip_and_is_complete(
    pdi_disc: Disc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "CDROM"
    gone = _disc_with_oddities(pdi_disc, root)
    iso = tmp_path / "disc.iso"
    run_tool("xorriso", "-outdev", iso, "-map", root, "/", "-commit")
    assert main(["import", "--library", str(tmp_path / "lib"), "--verbose", str(iso)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"skipped    {iso}!{gone}: not a regular file (a FIFO); not read" in lines, out
    link = "a symbolic link on the disc (to {!r}); not followed"
    assert f"skipped    {iso}!DICOM/GONE: {link.format('nowhere')}" in lines, out
    assert f"skipped    {iso}!DICOM/ZERO: {link.format('/dev/zero')}" in lines, out
    imported = [ln for ln in lines if ln.startswith("imported ")]
    assert len(imported) == len(pdi_disc.images) - 1, out
    assert "3 skipped" in out.splitlines()[-1], out  # the summary counts them


def _zip_with_links(z: Path, dicom: bytes) -> None:
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("A/IM1.dcm", dicom)
        zf.writestr("B/", b"")
        for name, target in (
            ("A/same.dcm", "IM1.dcm"),  # beside it
            ("B/folder", "../A"),  # a folder of the zip
            ("B/gone.dcm", "../A/IM9.dcm"),  # inside, but no such member
            ("B/passwd.dcm", "/etc/passwd"),  # out of the zip: refused
            ("B/up.dcm", "../../etc/passwd"),  # out of the zip: refused
        ):
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)


def test_a_link_inside_a_zip_is_skipped_one_out_refused(mr_head_dir: Path, tmp_path: Path) -> None:
    z = tmp_path / "portal.zip"
    dicom = sorted(mr_head_dir.glob("*.dcm"))[200].read_bytes()
    _zip_with_links(z, dicom)
    items = {
        _key(i.origin, tmp_path): i for i in PortalZipImporter().iter_items(str(z), ImportOptions())
    }
    assert {k: i.skip for k, i in items.items() if i.skip is not None} == {
        "A/same.dcm": "a symbolic link (to 'IM1.dcm'), whose member is read on its own; "
        "not followed",
        "B/folder": "a symbolic link (to '../A'), whose member is read on its own; not followed",
        "B/gone.dcm": "a symbolic link (to '../A/IM9.dcm'), which is not in the zip; not followed",
    }
    assert {k: i.problem for k, i in items.items() if i.problem is not None} == {
        "B/passwd.dcm": "refused: symbolic link",
        "B/up.dcm": "refused: symbolic link",
    }
    assert items["A/IM1.dcm"].data == dicom  # the member a link leads to is read on its own
    for i in items.values():
        if i.skip is not None or i.problem is not None:
            assert i.data is None and i.path is None


def test_importing_a_zip_with_links_inside_it_is_complete(
    mr_head_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    z = tmp_path / "inside.zip"
    dicom = sorted(mr_head_dir.glob("*.dcm"))[200].read_bytes()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("A/IM1.dcm", dicom)
        info = zipfile.ZipInfo("A/same.dcm")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "IM1.dcm")
    assert main(["import", "--library", str(tmp_path / "lib"), str(z)]) == 0
    out = capsys.readouterr().out
    assert (
        f"skipped    {z}!A/same.dcm: a symbolic link (to 'IM1.dcm'), whose member is read on "
        "its own; not followed" in out.splitlines()
    ), out
    assert "1 imported, 1 skipped" in out, out


def test_info_says_a_skipped_item_is_skipped_not_damaged(
    mr_head_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cd"
    folder.mkdir()
    shutil.copy(sorted(mr_head_dir.glob("*.dcm"))[200], folder / "good.dcm")
    os.mkfifo(folder / "fifo.dcm")
    assert main(["info", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert f"skipped {folder / 'fifo.dcm'}: {FIFO}" in err, err
    assert "damaged" not in out + err, out + err


def test_the_plugins_probe_lists_skips_apart_from_what_it_found(
    mr_head_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `ownscan plugins --source` counted a skip item as a DICOM file found
    import json

    z = tmp_path / "portal.zip"
    _zip_with_links(z, sorted(mr_head_dir.glob("*.dcm"))[200].read_bytes())
    assert main(["plugins", "--source", str(z)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "    found: 1 application/dicom" in lines, lines
    assert "    refused 2:" in lines and "    skipped 3 (not read):" in lines, lines
    assert (
        f"        {z}!A/same.dcm: a symbolic link (to 'IM1.dcm'), whose member is read on "
        "its own; not followed" in lines
    ), lines
    assert main(["plugins", "--source", str(z), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"] == {DICOM: 1}
    assert [s["origin"].split("!", 1)[1] for s in out["skipped"]] == [
        "A/same.dcm",
        "B/folder",
        "B/gone.dcm",
    ]
