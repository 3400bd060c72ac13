"""The portal-zip importer: nasty layouts, names, escapes, bombs and passwords."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from media_data import (  # noqa: F401 (fixtures)
    FAKE_EXE,
    JPEG_PREVIEW,
    MINI_PDF,
    Disc,
    deflate_member,
    disc_images_fixture,
    pdi_disc_fixture,
    run_tool,
    write_raw_zip,
    zeros_member,
)

from ownscan.core.errors import ImportFailed, UsageError
from ownscan.core.plugin_host import PluginHost
from ownscan.core.plugin_types import DICOM, ImportOptions, SourceItem
from ownscan.plugins.portal_zip import PortalZipImporter, ZipLimits, parse_size

IMPORTER = PortalZipImporter()
GiB = 1 << 30


def _items(source: Path, **extra) -> list[SourceItem]:
    return list(IMPORTER.iter_items(str(source), ImportOptions(extra=extra)))


def _tail(item: SourceItem, source: Path) -> str:
    assert item.origin.startswith(f"{source}!")
    return item.origin[len(str(source)) + 1 :]


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def dicoms(pdi_disc: Disc) -> list[bytes]:
    """Six real DICOM files (from the disc fixture)."""
    return [pdi_disc.images[k] for k in sorted(pdi_disc.images)][:6]


@pytest.fixture(scope="session")
def portal_zip(tmp_path_factory: pytest.TempPathFactory, dicoms: list[bytes]) -> Path:
    """A download as portals make them, with every kind of clutter and every kind of attack."""
    deeper = _zip_bytes({"IM5.dcm": dicoms[5]})
    inner = _zip_bytes({"A/IM4.dcm": dicoms[4], "A/deeper.zip": deeper})
    path = tmp_path_factory.mktemp("zip") / "portal.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Export/Patient/Study1/Series1/IM1.dcm", dicoms[0])
        zf.writestr("Export/Patient/Study1/Series1/IM2", dicoms[1])  # no suffix
        zf.writestr("Pätient Ünïcode/IM3.DCM", dicoms[2])  # UTF-8 flag
        zf.writestr("Export/DICOMDIR", b"\x00" * 128 + b"DICM")  # an index, not an image
        zf.writestr("Export/report.pdf", MINI_PDF)
        zf.writestr("Export/preview.jpg", JPEG_PREVIEW)
        zf.writestr("Viewer/viewer.exe", FAKE_EXE)
        zf.writestr("__MACOSX/Export/._IM1.dcm", b"\x00\x05\x16\x07")
        zf.writestr("Export/.DS_Store", b"Bud1")
        zf.writestr("Export/inner.zip", inner)
        zf.writestr("Export/empty/", b"")
        zf.writestr("../evil.dcm", dicoms[0])
        zf.writestr("/abs/evil.dcm", dicoms[0])
        zf.writestr("C:\\Windows\\evil.dcm", dicoms[0])
        zf.writestr("ok/../../evil2.dcm", dicoms[0])
        link = zipfile.ZipInfo("Export/link.dcm")
        link.create_system = 3
        link.external_attr = (0o120777 << 16) | 0
        zf.writestr(link, "/etc/passwd")
    return path


# ---------------------------------------------------------------------------------------------
def test_claims(portal_zip: Path, tmp_path: Path, pdi_disc: Disc):
    assert IMPORTER.claims(str(portal_zip))
    renamed = tmp_path / "download"  # no suffix: by its signature
    renamed.write_bytes(portal_zip.read_bytes())
    assert IMPORTER.claims(str(renamed))
    assert not IMPORTER.claims(str(pdi_disc.root / "REPORT.PDF"))
    assert not IMPORTER.claims(str(tmp_path))
    assert not IMPORTER.claims("https://portal.example/export.zip")
    assert PluginHost().find_importer(str(portal_zip)).name == "zip"


def test_portal_zip_items(portal_zip: Path, dicoms: list[bytes], tmp_path: Path, monkeypatch):
    cwd = tmp_path / "cwd" / "deep"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)  # nothing may be written anywhere, least of all beside us
    items = _items(portal_zip)
    assert list(cwd.iterdir()) == [] and list(cwd.parent.iterdir()) == [cwd]

    got = {_tail(i, portal_zip): i for i in items}
    expect_dicom = {
        "Export/Patient/Study1/Series1/IM1.dcm": dicoms[0],
        "Export/Patient/Study1/Series1/IM2": dicoms[1],
        "Pätient Ünïcode/IM3.DCM": dicoms[2],
        "Export/inner.zip!A/IM4.dcm": dicoms[4],
        "Export/inner.zip!A/deeper.zip!IM5.dcm": dicoms[5],
    }
    # The preview and the viewer are offered as probable DICOM: the library reads them and
    # reports them as skipped (any other media type would be stored as a study document).
    # Only their first 132 bytes are inflated: all that "not DICOM" needs (issue #16).
    expect_dicom["Export/preview.jpg"] = JPEG_PREVIEW[:132]
    expect_dicom["Viewer/viewer.exe"] = FAKE_EXE[:132]
    dicom = {k: i for k, i in got.items() if i.media_type == DICOM and not i.problem}
    assert set(dicom) == set(expect_dicom)
    for key, item in dicom.items():
        assert item.data == expect_dicom[key] and item.path is None
    assert got["Export/report.pdf"].media_type == "application/pdf"
    assert got["Export/report.pdf"].data == MINI_PDF
    refused = {k: i.problem for k, i in got.items() if i.problem}
    assert refused == {
        "../evil.dcm": "refused: path climbs out with '..' would escape the archive",
        "/abs/evil.dcm": "refused: absolute path would escape the archive",
        "C:\\Windows\\evil.dcm": "refused: drive letter would escape the archive",
        "ok/../../evil2.dcm": "refused: path climbs out with '..' would escape the archive",
        "Export/link.dcm": "refused: symbolic link",
    }
    assert len(items) == len(dicom) + 1 + len(refused)  # no litter, folders or DICOMDIR


def test_zip_made_by_the_zip_cli(tmp_path: Path, dicoms: list[bytes]):
    src = tmp_path / "src"
    (src / "Jürgen Straße" / "CT").mkdir(parents=True)
    (src / "Jürgen Straße" / "CT" / "IM 1.dcm").write_bytes(dicoms[0])
    (src / "Jürgen Straße" / "Befund.pdf").write_bytes(MINI_PDF)
    (src / "Jürgen Straße" / "CT" / "IM2").write_bytes(dicoms[1])
    out = tmp_path / "cli.zip"
    run_tool("zip", "-q", "-r", out, "Jürgen Straße", cwd=src)
    items = _items(out)
    assert {(_tail(i, out), i.media_type) for i in items} == {
        ("Jürgen Straße/CT/IM 1.dcm", DICOM),
        ("Jürgen Straße/CT/IM2", DICOM),
        ("Jürgen Straße/Befund.pdf", "application/pdf"),
    }


def test_windows_and_unflagged_names(tmp_path: Path, dicoms: list[bytes]):
    """Names without the UTF-8 flag: cp437, cp850, bare UTF-8, and Info-ZIP's Unicode Path."""
    raw_unicode = "BEFUND/Gr?n.dcm".encode("ascii")
    name = "BEFUND/Grün.dcm".encode()
    extra = struct.pack("<HHB", 0x7075, 5 + len(name), 1) + struct.pack(
        "<I", zlib.crc32(raw_unicode)
    )
    path = tmp_path / "windows.zip"
    write_raw_zip(
        path,
        [
            deflate_member("MÜLLER/IM1".encode("cp437"), dicoms[0]),  # Ü: 0x9A in cp437 and 850
            deflate_member("SØRENSEN/IM2".encode("cp850"), dicoms[1]),  # Ø: 0x9D, ¥ in cp437
            deflate_member("Zoë/IM3".encode(), dicoms[2]),  # UTF-8 without the flag
            deflate_member(raw_unicode, dicoms[3], extra=extra + name),
        ],
    )
    names = {_tail(i, path) for i in _items(path)}
    assert names == {"MÜLLER/IM1", "SØRENSEN/IM2", "Zoë/IM3", "BEFUND/Grün.dcm"}
    forced = {_tail(i, path) for i in _items(path, name_encoding="cp437")}
    assert "S¥RENSEN/IM2" in forced
    with pytest.raises(UsageError, match="name_encoding 'klingon' is not an encoding"):
        _items(path, name_encoding="klingon")


def test_zipped_disc_dicomdir_skips_held_instances(tmp_path: Path, pdi_disc: Disc):
    """A whole PDI disc zipped (DICOMDIR inside): what the library holds is not even read."""
    path = tmp_path / "disc.zip"
    run_tool("zip", "-q", "-r", path, ".", cwd=pdi_disc.root)
    held_keys = sorted(pdi_disc.images)[:3]
    held = {pdi_disc.uids[k] for k in held_keys}
    every = IMPORTER.iter_items(str(path), ImportOptions())
    fresh = IMPORTER.iter_items(str(path), ImportOptions(known_instance=held.__contains__))
    all_names = {_tail(i, path) for i in every}
    assert all_names - {_tail(i, path) for i in fresh} == set(held_keys)
    assert "DICOMDIR" not in all_names and "REPORT.PDF" in all_names


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def zipcrypto(tmp_path_factory: pytest.TempPathFactory, dicoms: list[bytes]) -> Path:
    src = tmp_path_factory.mktemp("enc")
    (src / "DICOM").mkdir()
    for i, data in enumerate(dicoms[:3]):
        (src / "DICOM" / f"IM{i}").write_bytes(data)
    out = src / "encrypted.zip"
    run_tool("zip", "-q", "-r", "-P", "s3cret", out, "DICOM", cwd=src)
    return out


def test_encrypted_zip_needs_its_password(zipcrypto: Path, dicoms: list[bytes], monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt, a message
    with pytest.raises(ImportFailed, match=r"encrypted.*give its password with --password"):
        _items(zipcrypto)
    with pytest.raises(ImportFailed, match="wrong password"):
        _items(zipcrypto, password="guess")
    items = _items(zipcrypto, password="s3cret")
    assert sorted(i.data for i in items if i.data) == sorted(dicoms[:3])


def test_windows_encoded_password(tmp_path: Path, dicoms: list[bytes], monkeypatch):
    """A ZipCrypto password typed on Windows is in its OEM code page: "Müller" is M\\x81ller."""
    import shutil
    import subprocess

    monkeypatch.setattr("sys.stdin", io.StringIO())
    (tmp_path / "IM1").write_bytes(dicoms[0])
    path = tmp_path / "oem.zip"
    zip_cli = shutil.which("zip")
    assert zip_cli is not None, "zip is not installed"
    subprocess.run([zip_cli, "-q", "-P", b"M\x81ller", path, "IM1"], cwd=tmp_path, check=True)
    assert [i.data for i in _items(path, password="Müller")] == [dicoms[0]]
    with pytest.raises(ImportFailed, match="wrong password"):
        _items(path, password="Muller")


def test_a_wrong_password_encoding_that_passes_the_zipcrypto_check_is_not_taken(
    tmp_path: Path, dicoms: list[bytes], monkeypatch
):
    """ZipCrypto checks a password by one byte: the UTF-8 "Müller" tried first passes it for
    one zip in 256 and then inflates garbage. The next encoding must still be tried (this
    failed the OEM test above one run in a few hundred)."""
    import shutil
    import subprocess

    monkeypatch.setattr("sys.stdin", io.StringIO())
    (tmp_path / "IM1").write_bytes(dicoms[0])
    zip_cli = shutil.which("zip")
    assert zip_cli is not None, "zip is not installed"
    path = tmp_path / "oem.zip"
    for _ in range(4000):  # each zip draws a new random header: about 1 in 256 passes
        path.unlink(missing_ok=True)
        subprocess.run([zip_cli, "-q", "-P", b"M\x81ller", path, "IM1"], cwd=tmp_path, check=True)
        with zipfile.ZipFile(path) as zf:
            try:
                zf.open(zf.infolist()[0], pwd="Müller".encode()).close()
            except RuntimeError:  # "Bad password": the usual case
                continue
        break
    else:
        pytest.fail("no zip whose header the UTF-8 password passes in 4000 tries")
    assert [i.data for i in _items(path, password="Müller")] == [dicoms[0]]


def test_aes_zip(tmp_path: Path, dicoms: list[bytes], monkeypatch):
    import pyzipper

    monkeypatch.setattr("sys.stdin", io.StringIO())

    path = tmp_path / "aes.zip"
    with pyzipper.AESZipFile(
        path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as zf:
        zf.setpassword(b"p@ss")
        zf.writestr("Study/IM1", dicoms[0])
        zf.writestr("Study/Report.pdf", MINI_PDF)
    with pytest.raises(ImportFailed, match="give its password"):
        _items(path)
    items = _items(path, password="p@ss")
    assert {(_tail(i, path), i.media_type) for i in items} == {
        ("Study/IM1", DICOM),
        ("Study/Report.pdf", "application/pdf"),
    }
    assert next(i for i in items if i.media_type == DICOM).data == dicoms[0]


# ---------------------------------------------------------------------------------------------
# Zip bombs
# ---------------------------------------------------------------------------------------------
def test_bombs_are_refused_with_the_limit_named(tmp_path: Path, dicoms: list[bytes]):
    path = tmp_path / "bomb.zip"
    write_raw_zip(
        path,
        [
            deflate_member(b"ok/IM1", dicoms[0]),
            zeros_member(b"big.dcm", 2 * GiB),  # 2 GiB of zeros in ~2 MB
            zeros_member(b"dense.dcm", 256 << 20),  # 256 MiB at ~1000:1
            zeros_member(b"liar.dcm", 16 << 20, declared=1000),  # says 1000 bytes
            deflate_member(b"ok/IM2", dicoms[1]),
        ],
    )
    assert path.stat().st_size < 5_000_000
    got = {_tail(i, path): i for i in _items(path)}
    assert got["ok/IM1"].data == dicoms[0] and got["ok/IM2"].data == dicoms[1]
    assert "over the per-entry limit max_entry_bytes=1.0 GiB" in (got["big.dcm"].problem or "")
    assert "over the compression-ratio limit max_ratio=200" in (got["dense.dcm"].problem or "")
    # zipfile stops at the declared size and the CRC check catches the rest
    assert (got["liar.dcm"].problem or "").startswith("damaged member")
    assert got["liar.dcm"].data is None


def test_total_size_bomb_stops_before_reading(tmp_path: Path):
    member = zeros_member(b"x", GiB)
    path = tmp_path / "overlap.zip"
    write_raw_zip(path, [replace(member, name=f"{i}.dcm".encode()) for i in range(21)])
    with pytest.raises(ImportFailed, match=r"over the total limit max_total_bytes=20\.0 GiB"):
        _items(path)


def test_limits_are_configurable(portal_zip: Path):
    with pytest.raises(ImportFailed, match=r"max_total_bytes=1\.0 MiB"):
        _items(portal_zip, max_total_bytes="1M")
    items = _items(portal_zip, max_entry_bytes="100K")
    refused = [i for i in items if i.problem and "max_entry_bytes=100.0 KiB" in i.problem]
    assert len(refused) >= 3  # the DICOM files (about 200 KiB each) at the top level
    # the central directory's count is checked before any member is read (issue #16)
    with pytest.raises(ImportFailed, match=r"declares 16 members, more than max_entries=3; "):
        _items(portal_zip, max_entries=3)
    assert ZipLimits.from_options({"max_ratio": "50", "max_nesting": 1}) == ZipLimits(
        max_ratio=50.0, max_nesting=1
    )
    with pytest.raises(UsageError, match="max_entry_bytes='lots': not a size"):
        ZipLimits.from_options({"max_entry_bytes": "lots"})
    with pytest.raises(UsageError, match="max_nesting='deep': invalid literal"):
        ZipLimits.from_options({"max_nesting": "deep"})
    with pytest.raises(UsageError, match="max_ratio must be > 0"):
        ZipLimits.from_options({"max_ratio": "0"})


def test_nesting_limit(tmp_path: Path, dicoms: list[bytes]):
    data = _zip_bytes({"IM.dcm": dicoms[0]})
    for level in range(5):
        data = _zip_bytes({f"level{level}.zip": data})
    path = tmp_path / "nested.zip"
    path.write_bytes(data)
    items = _items(path)
    assert len(items) == 1 and "max_nesting=3" in (items[0].problem or "")
    deep = _items(path, max_nesting=6)
    assert [i.data for i in deep] == [dicoms[0]]


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1 << 20), ("500M", 500 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29), (7, 7)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_unsupported_method_is_reported_and_the_rest_imported(tmp_path: Path, dicoms):
    """Windows' own zipper writes Deflate64 for big folders; Python's zipfile cannot read it."""
    path = tmp_path / "deflate64.zip"
    write_raw_zip(
        path,
        [
            replace(deflate_member(b"big/IM1", dicoms[0]), method=9),
            deflate_member(b"ok/IM2", dicoms[1]),
        ],
    )
    got = {_tail(i, path): i for i in _items(path)}
    assert got["ok/IM2"].data == dicoms[1]
    assert "compression method Deflate64 (9) is not supported" in (got["big/IM1"].problem or "")


def test_not_a_zip_and_an_interrupted_download(tmp_path: Path, portal_zip: Path):
    bad = tmp_path / "export.zip"
    bad.write_bytes(b"this is not a zip at all")
    with pytest.raises(ImportFailed, match=r"export\.zip: not a readable zip file"):
        _items(bad)
    assert os.path.exists(bad)
    cut = tmp_path / "partial.zip"
    cut.write_bytes(portal_zip.read_bytes()[:50_000])
    with pytest.raises(ImportFailed, match=r"partial\.zip: incomplete or damaged zip: .* download"):
        _items(cut)
