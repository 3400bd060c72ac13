"""The example third-party plugin (examples/ownscan-example-importer): the tar importer.

These tests import the example from its source folder; tests/test_distribution.py installs it
from a wheel into a fresh virtual environment and drives it through the ``ownscan`` command.
"""

from __future__ import annotations

import io
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pydicom
import pytest

from ownscan.core.errors import ImportFailed
from ownscan.core.plugin_host import PluginHost
from ownscan.core.plugin_types import ImportOptions, SourceItem

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ownscan-example-importer"
N_FILES = 6


@pytest.fixture(scope="module")
def plugin() -> Iterator[ModuleType]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import ownscan_example_importer.plugin as module

        yield module
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [m for m in sys.modules if m.startswith("ownscan_example_importer")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def dicom_files(mr_head_dir: Path) -> list[Path]:
    return sorted(mr_head_dir.glob("*.dcm"))[:N_FILES]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    tar.addfile(info)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, dicom_files: list[Path]) -> Path:
    """A .tar.gz with real DICOM under scans/, a report, clutter and hostile members."""
    path = tmp_path_factory.mktemp("tar") / "study.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(str(dicom_files[0].parent), arcname="scans", recursive=False)  # a folder entry
        for f in dicom_files:
            tar.add(str(f), arcname=f"scans/{f.name}")
        _add_bytes(tar, "report.pdf", b"%PDF-1.4 not really")
        _add_bytes(tar, "__MACOSX/scans/._N2D_0001.dcm", b"resource fork")
        _add_bytes(tar, "scans/._N2D_0002.dcm", b"resource fork")
        _add_bytes(tar, "../outside.dcm", b"escape")
        _add_bytes(tar, "/etc/absolute.dcm", b"escape")
        _add_bytes(tar, "scans/../../up.dcm", b"escape")
        _add_bytes(tar, "scans\\..\\..\\windows.dcm", b"escape")
        _add_special(tar, "scans/link.dcm", tarfile.SYMTYPE, "/etc/passwd")
        _add_special(tar, "scans/hard.dcm", tarfile.LNKTYPE, f"scans/{dicom_files[0].name}")
        _add_special(tar, "scans/pipe", tarfile.FIFOTYPE)
        _add_bytes(tar, "scans/./inside/../ok.txt", b"stays inside")
    return path


def test_claims_tar_names_only(plugin: ModuleType, archive: Path, tmp_path: Path) -> None:
    imp = plugin.TarImporter()
    assert imp.claims(str(archive))
    for name in ("a.tar", "a.TGZ", "a.tar.gz"):
        (tmp_path / name).write_bytes(b"")
        assert imp.claims(str(tmp_path / name)), name
    (tmp_path / "folder.tar").mkdir()
    (tmp_path / "a.zip").write_bytes(b"")
    assert not imp.claims(str(tmp_path / "folder.tar"))  # a folder, not an archive
    assert not imp.claims(str(tmp_path / "a.zip"))
    assert not imp.claims(str(tmp_path / "missing.tar.gz"))
    assert not imp.claims("https://example.org/study.tar.gz")


def test_reads_real_dicom_and_refuses_hostile_members(
    plugin: ModuleType, archive: Path, dicom_files: list[Path]
) -> None:
    items = list(plugin.TarImporter().iter_items(str(archive), ImportOptions()))
    by_member = {item.origin.split("!", 1)[1]: item for item in items}
    assert all(item.origin.startswith(f"{archive}!") for item in items)
    # every DICOM file comes out byte for byte, in archive order, and is readable DICOM
    good = [i for i in items if i.problem is None and i.media_type == "application/dicom"]
    assert [i.origin for i in good[:N_FILES]] == [f"{archive}!scans/{f.name}" for f in dicom_files]
    for item, f in zip(good, dicom_files, strict=False):
        assert item.data == f.read_bytes()
        ds = pydicom.dcmread(item.open())
        assert ds.SOPInstanceUID == pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
    assert by_member["report.pdf"].media_type == "application/pdf"
    assert by_member["scans/./inside/../ok.txt"].data == b"stays inside"
    # clutter and folders are dropped without a word
    assert not [m for m in by_member if "._" in m or m.rstrip("/") == "scans"]
    # hostile members are reported, with no content
    refused = {m: i.problem for m, i in by_member.items() if i.problem is not None}
    assert set(refused) == {
        "../outside.dcm",
        "/etc/absolute.dcm",
        "scans/../../up.dcm",
        "scans\\..\\..\\windows.dcm",
        "scans/link.dcm",
        "scans/hard.dcm",
        "scans/pipe",
    }
    for m in ("../outside.dcm", "/etc/absolute.dcm", "scans/../../up.dcm"):
        assert "escapes the archive" in str(refused[m])
    assert "symbolic link" in str(refused["scans/link.dcm"])
    assert "hard link" in str(refused["scans/hard.dcm"])
    assert "not a regular file" in str(refused["scans/pipe"])
    assert all(by_member[m].data is None and by_member[m].path is None for m in refused)


def test_member_size_limit(plugin: ModuleType, archive: Path, dicom_files: list[Path]) -> None:
    limit = min(f.stat().st_size for f in dicom_files) - 1
    opts = ImportOptions(extra={"tar_max_member_bytes": limit})
    items = list(plugin.TarImporter().iter_items(str(archive), opts))
    big = [
        i for i in items if i.origin.endswith(".dcm") and "more than the limit" in (i.problem or "")
    ]
    assert len(big) == N_FILES


def test_uncompressed_tar(plugin: ModuleType, tmp_path: Path, dicom_files: list[Path]) -> None:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(str(dicom_files[0]), arcname=dicom_files[0].name)
    (item,) = plugin.TarImporter().iter_items(str(path), ImportOptions())
    assert item.data == dicom_files[0].read_bytes()


def test_damaged_archive_keeps_what_came_before(
    plugin: ModuleType, archive: Path, tmp_path: Path, dicom_files: list[Path]
) -> None:
    cut = tmp_path / "cut.tar.gz"
    data = archive.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    got: list[SourceItem] = []
    with pytest.raises(ImportFailed, match=r"cut\.tar\.gz: archive is damaged after \d+ members"):
        for item in plugin.TarImporter().iter_items(str(cut), ImportOptions()):
            got.append(item)
    assert 0 < len(got) < N_FILES
    for item, f in zip(got, dicom_files, strict=False):
        assert item.data == f.read_bytes()


@pytest.mark.parametrize(
    "content", [b"", b"this is not a tar archive\n" * 50], ids=["empty", "text"]
)
def test_not_a_tar_is_one_clear_error(plugin: ModuleType, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=r"fake\.tar\.gz: not a readable tar archive"):
        list(plugin.TarImporter().iter_items(str(path), ImportOptions()))


def test_host_prefers_it_to_the_folder_importer(
    plugin: ModuleType, archive: Path, mr_head_dir: Path
) -> None:
    host = PluginHost(extra_plugins=[("tar", plugin)])
    assert host.find_importer(str(archive)).name == "tar"
    assert host.find_importer(str(mr_head_dir)).name == "folder"
    assert host.find_importer(str(archive), via="folder").name == "folder"
    assert host.owner(host.find_importer(str(archive))).name == "tar"


def test_plugins_source_lists_what_was_refused(
    plugin: ModuleType, archive: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from ownscan.core import plugin_host
    from ownscan.core.cli import main

    monkeypatch.setattr(plugin_host, "_HOST", PluginHost(extra_plugins=[("tar", plugin)]))
    assert main(["plugins", "--source", str(archive)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        str(archive),
        "    importer tar (claims it), from plugin tar ((registered in code))",
        f"    found: {N_FILES + 1} application/dicom, 1 application/pdf",
        "    refused 7:",
    ]
    assert (
        f"        {archive}!scans/link.dcm: is a symbolic link (to '/etc/passwd'); links in "
        in ("\n".join(lines))
    )


def test_member_size_limit_from_the_command_line(
    plugin: ModuleType, archive: Path, dicom_files: list[Path]
) -> None:
    """The plugin's own flag (ownscan_addoption) reaches iter_items as the option."""
    import argparse

    from ownscan.core.plugin_host import plugin_options

    host = PluginHost(extra_plugins=[("tar", plugin)])
    parser = argparse.ArgumentParser()
    host.add_options(parser, "import")
    limit = min(f.stat().st_size for f in dicom_files) - 1
    args = parser.parse_args(["--tar-max-member-bytes", str(limit), "--password", "x"])
    extra = plugin_options(args)
    assert extra["tar_max_member_bytes"] == limit and not host.broken
    items = list(host.find_importer(str(archive)).iter_items(str(archive), ImportOptions(extra)))
    assert sum("more than the limit" in (i.problem or "") for i in items) == N_FILES
    parser = argparse.ArgumentParser()
    host.add_options(parser, "search")  # not a command that reads archives
    with pytest.raises(SystemExit):
        parser.parse_args(["--tar-max-member-bytes", "1"])
