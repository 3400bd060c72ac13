"""The plugin host: built-ins through entry points, broken third parties isolated, blocklist."""

from __future__ import annotations

import re
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
    host.contributions()  # every built-in answers every hook; a bad one raises PluginError
    assert not host.broken
    folder = next(p for p in host.plugins if p.name == "folder")
    assert folder.contributes == {"importers": ["folder"]}


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


def _module(fake_path: Path, name: str, code: str) -> object:
    """Write and import a plugin module (registered through ``extra_plugins``)."""
    import importlib

    (fake_path / f"{name}.py").write_text(textwrap.dedent(code))
    return importlib.import_module(name)


TYPO_HOOK = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_importer():
    return []
"""

NO_HOOKIMPL = """
def ownscan_importers():  # forgot @hookimpl
    return []
"""

MALFORMED = """
from ownscan.core.hookspecs import hookimpl

class NoClaims:
    name = "noclaims"
    description = ""
    priority = 0
    def iter_items(self, source, options):
        return iter(())

@hookimpl
def ownscan_importers():
    return [NoClaims()]
"""

NOT_A_LIST = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_importers():
    return "folder"
"""

BAD_PRIORITY = """
from ownscan.core.hookspecs import hookimpl

class Imp:
    name = "badprio"
    description = ""
    priority = "high"
    def claims(self, source):
        return True
    def iter_items(self, source, options):
        return iter(())

@hookimpl
def ownscan_importers():
    return [Imp()]
"""

CLASH_AND_EXPORTER = """
from ownscan.core.hookspecs import hookimpl

class Folder:
    name = "folder"
    description = "a second importer called folder"
    priority = 50
    def claims(self, source):
        return True
    def iter_items(self, source, options):
        return iter(())

class Exp:
    name = "clasher-format"
    description = ""
    writes_folder = False
    def export(self, volumes, output, options):
        return []

@hookimpl
def ownscan_exporters():
    return [Exp()]

@hookimpl
def ownscan_importers():
    return [Folder()]
"""

EXITS = "import sys\nsys.exit('plugin gave up')\n"

_CHECK_MODULES = (
    "typo_plugin",
    "nohookimpl_plugin",
    "malformed_plugin",
    "notalist_plugin",
    "badprio_plugin",
    "clash_plugin",
    "exits_plugin",
)


@pytest.fixture
def check_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in _CHECK_MODULES:
        sys.modules.pop(mod, None)


@pytest.mark.parametrize(
    ("module", "code", "reason"),
    [
        ("typo_plugin", TYPO_HOOK, r"unknown hook\(s\) ownscan_importer; the hooks are: "),
        ("nohookimpl_plugin", NO_HOOKIMPL, r"implements no ownscan hook \(decorate"),
        ("malformed_plugin", MALFORMED, r"its importer .*NoClaims.* lacks claims"),
        ("notalist_plugin", NOT_A_LIST, r"ownscan_importers must return a list, not str"),
        ("badprio_plugin", BAD_PRIORITY, r"importer 'badprio': priority must be an int"),
        (
            "clash_plugin",
            CLASH_AND_EXPORTER,
            r"its importer 'folder' clashes with the one from plugin folder \(ownscan ",
        ),
    ],
    ids=["typo-hook", "no-hookimpl", "malformed", "not-a-list", "bad-priority", "clash"],
)
def test_unusable_third_party_plugin_is_broken_not_fatal(check_path, module, code, reason):
    obj = _module(check_path, module, code)
    host = PluginHost(extra_plugins=[("suspect", obj)])
    host.contributions()
    (broken,) = host.broken
    assert broken.name == "suspect"
    assert re.search(reason, broken.reason), broken.reason
    assert "suspect" not in {p.name for p in host.plugins}
    # ownscan goes on with what works: exactly the installed plugins' importers
    assert [i.name for i in host.importers()] == [i.name for i in PluginHost().importers()]
    assert host.find_importer(str(check_path)).name == "folder"


def test_broken_plugin_loses_everything_it_contributed(check_path):
    obj = _module(check_path, "clash_plugin", CLASH_AND_EXPORTER)
    host = PluginHost(extra_plugins=[("suspect", obj)])
    builtin = PluginHost()
    # its exporter is accepted first...
    assert "clasher-format" in [e.name for e in host.exporters()]
    # ...then its importer clashes with the built-in folder importer: the whole plugin goes
    assert [i.name for i in host.importers()] == [i.name for i in builtin.importers()]
    assert [e.name for e in host.exporters()] == [e.name for e in builtin.exporters()]
    with pytest.raises(ValueError, match="unknown export format 'clasher-format'"):
        host.exporter("clasher-format")


def test_plugin_calling_sys_exit_at_import_is_broken(check_path):
    _fake_distribution(check_path, "ownscan-exits", {"exits_plugin": EXITS}, {"ex": "exits_plugin"})
    host = PluginHost()
    (broken,) = host.broken
    assert broken.distribution == "ownscan-exits"
    assert "failed to import: SystemExit: plugin gave up" in broken.reason


def test_disable_by_distribution_name_is_listed(fake_path):
    _fake_distribution(fake_path, "ownscan-fake", {"good_plugin": GOOD}, {"good": "good_plugin"})
    assert "txt" in [i.name for i in PluginHost().importers()]
    host = PluginHost(disabled=["OWNSCAN_FAKE"])  # distribution names compare as PEP 503 says
    assert "txt" not in [i.name for i in host.importers()]
    assert [(d.name, d.distribution, d.version) for d in host.disabled_plugins] == [
        ("good", "ownscan-fake", "1.2.3")
    ]


def test_owner_names_the_contributing_plugin(fake_path):
    _fake_distribution(fake_path, "ownscan-fake", {"good_plugin": GOOD}, {"good": "good_plugin"})
    host = PluginHost()
    txt = host.find_importer("notes.txt")
    assert (host.owner(txt).name, host.owner(txt).distribution) == ("good", "ownscan-fake")
    with pytest.raises(ValueError, match="not contributed by a loaded plugin"):
        host.owner(object())


def test_missing_path_says_so(tmp_path):
    with pytest.raises(NoImporter) as err:
        PluginHost().find_importer(str(tmp_path / "typo"))
    assert str(err.value) == f"no such file or folder: {tmp_path / 'typo'}"


def test_every_builtin_plugin_module_is_an_installed_entry_point():
    """plugins/*.py (public modules) == pyproject's ``ownscan`` entry points == installed ones.

    A plugin module missing from pyproject.toml would silently never load; an entry point
    added to pyproject.toml is only seen after ``pip install -e .`` again.
    """
    import pkgutil
    import tomllib

    import ownscan.plugins

    repo = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["entry-points"][
        "ownscan"
    ]
    modules = {
        f"ownscan.plugins.{m.name}"
        for m in pkgutil.iter_modules(ownscan.plugins.__path__)
        if not m.name.startswith("_")
    }
    assert set(declared.values()) == modules, (
        "each public module in plugins/ must be an entry point in [project.entry-points.ownscan] "
        "of pyproject.toml (helpers that are not plugins: name them plugins/_private.py)"
    )
    installed = {
        ep.name: ep.value
        for ep in metadata.entry_points(group="ownscan")
        if ep.dist is not None and ep.dist.name == "ownscan"
    }
    assert installed == declared, "entry points changed: run pip install -e . again"


def test_entry_point_name_taken_by_a_builtin(fake_path):
    _fake_distribution(fake_path, "ownscan-fake", {"good_plugin": GOOD}, {"folder": "good_plugin"})
    host = PluginHost()
    (broken,) = host.broken
    assert broken.reason == (
        "the plugin name 'folder' is already taken by plugin folder (ownscan "
        f"{metadata.version('ownscan')}); rename its entry point"
    )
    assert [p.distribution for p in host.plugins if p.name == "folder"] == ["ownscan"]
