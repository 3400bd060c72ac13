"""The plugin host: built-ins through entry points, broken third parties isolated, blocklist."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from ownscan.core.errors import NoImporter
from ownscan.core.plugin_host import PluginError, PluginHost


def _fake_distribution(
    tmp_path: Path, dist: str, modules: dict[str, str], eps: dict[str, str]
) -> None:
    """Write modules plus a ``*.dist-info`` with entry points, as pip would install them."""
    for name, code in modules.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    # dist-info folders spell the name with underscores (PEP 427); with a dash, importlib.metadata
    # would read "ownscan-fake-1.2.3" as the distribution "ownscan" and hide the real one.
    info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "".join(f"{k} = {v}\n" for k, v in eps.items())
    (info / "entry_points.txt").write_text(f"[ownscan]\n{lines}")


GOOD = """
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import SourceItem

class TxtImporter:
    name = "txt"
    description = "a test importer"
    priority = 0
    def claims(self, source):
        return source.endswith(".txt")
    def iter_items(self, source, options):
        yield SourceItem(origin=source, data=b"x")

@hookimpl
def ownscan_importers():
    return [TxtImporter()]
"""

RAISES_IN_HOOK = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_importers():
    raise RuntimeError("boom in hook")
"""


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in ("good_plugin", "bad_import_plugin", "raising_plugin"):
        sys.modules.pop(mod, None)


def test_builtins_come_from_our_entry_points():
    host = PluginHost()
    names = {p.name for p in host.plugins if p.builtin}
    assert "folder" in names
    assert all(p.distribution == "ownscan" for p in host.plugins if p.builtin)
    assert not host.broken


def test_third_party_plugins_load_and_broken_ones_are_isolated(fake_path):
    _fake_distribution(
        fake_path,
        "ownscan-fake",
        {
            "good_plugin": GOOD,
            "bad_import_plugin": "import does_not_exist_anywhere\n",
            "raising_plugin": RAISES_IN_HOOK,
        },
        {"good": "good_plugin", "badimport": "bad_import_plugin", "raising": "raising_plugin"},
    )
    # discovered exactly as installed plugins are: the fake dist-info is on sys.path
    host = PluginHost()
    importers = [i.name for i in host.importers()]
    assert "txt" in importers and "folder" in importers
    # the third party's importer (priority 0) is asked before the folder fallback
    assert importers.index("txt") < importers.index("folder")
    assert host.find_importer("notes.txt").name == "txt"
    broken = {b.name: b for b in host.broken}
    assert set(broken) == {"badimport", "raising"}
    assert "does_not_exist_anywhere" in broken["badimport"].reason
    assert "boom in hook" in broken["raising"].reason
    assert broken["raising"].distribution == "ownscan-fake"
    assert broken["raising"].version == "1.2.3"


def test_blocklist_skips_named_plugins(monkeypatch):
    monkeypatch.setenv("OWNSCAN_DISABLE_PLUGINS", "folder, nothing-such")
    host = PluginHost()
    assert "folder" not in {p.name for p in host.plugins}


def test_nobody_claims_lists_installed(tmp_path):
    host = PluginHost()
    with pytest.raises(NoImporter, match="no importer claims") as err:
        host.find_importer("nosuch://thing")
    assert "folder" in str(err.value)


def test_via_unknown_name_lists_valid_ones(tmp_path):
    host = PluginHost()
    with pytest.raises(ValueError, match=r"unknown importer 'nope'; valid: .*folder"):
        host.find_importer(str(tmp_path), via="nope")
    assert host.find_importer(str(tmp_path), via="folder").name == "folder"


def test_broken_builtin_fails_loudly(fake_path):
    (fake_path / "ownscan_broken_builtin.py").write_text("raise ImportError('bug')\n")
    ep = metadata.EntryPoint("brokenbuiltin", "ownscan_broken_builtin", "ownscan")
    dist = next(d for d in metadata.distributions() if d.metadata["Name"] == "ownscan")
    ep = ep._for(dist)  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="built-in plugin brokenbuiltin failed to load"):
        PluginHost(entry_points=[ep])
