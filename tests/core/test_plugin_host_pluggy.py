"""The plugin host calls hooks through pluggy: tracing, wrappers and tryfirst/trylast apply,
each plugin is still isolated; contributions are checked against the Protocols; plugins add
command-line flags (``ownscan_addoption``) that reach their importer."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ownscan.core import plugin_host
from ownscan.core.cli import main
from ownscan.core.plugin_host import PluginError, PluginHost, plugin_options

IMPORTERS = """
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import SourceItem

class Imp:
    description = "a test importer"
    priority = 1
    def __init__(self, name):
        self.name = name
    def claims(self, source):
        return source.endswith("." + self.name)
    def iter_items(self, source, options):
        yield SourceItem(origin=source, data=repr(dict(options.extra)).encode())

@hookimpl{marker}
def ownscan_importers():
    return [Imp("{name}")]
"""

WRAPPER = """
from ownscan.core.hookspecs import hookimpl

SEEN = []

@hookimpl(wrapper=True)
def ownscan_importers():
    result = yield
    SEEN.append([imp.name for found in result for imp in found])
    # a wrapper may change what a plugin offers: it hides the importer "hidden"
    return [[imp for imp in found if imp.name != "hidden"] for found in result]
"""

BAD_WRAPPER = """
from ownscan.core.hookspecs import hookimpl

@hookimpl(wrapper=True)
def ownscan_importers():
    yield
    raise RuntimeError("wrapper bug")
"""

OPTIONS = """
from ownscan.core.errors import ImportFailed
from ownscan.core.hookspecs import hookimpl

class Tar:
    name = "tarlike"
    description = "claims *.tarlike and says which options it was given"
    priority = 5
    def claims(self, source):
        return source.endswith(".tarlike")
    def iter_items(self, source, options):
        raise ImportFailed(source, f"saw {sorted(options.extra.items())}")

@hookimpl
def ownscan_importers():
    return [Tar()]

@hookimpl
def ownscan_addoption(parser, command):
    if command in ("import", "info"):
        parser.add_argument("--member-limit", type=int, help="largest member, bytes")
        parser.add_argument("--strict", action="store_true", help="refuse odd members")
"""

CLASHING_OPTION = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_addoption(parser, command):
    parser.add_argument("--harmless", help="added before the clash")
    parser.add_argument("--password", help="a second --password")
"""

RAISING_OPTION = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_addoption(parser):  # a subset of the spec's arguments is fine
    raise KeyError("no options today")
"""

SHORT_OPTION = """
from ownscan.core.hookspecs import hookimpl

@hookimpl
def ownscan_addoption(parser):
    parser.add_argument("-x", help="short flags are the command's")
"""

EXPORTER_WITHOUT_DESCRIPTION = """
from ownscan.core.hookspecs import hookimpl

class Exp:
    name = "nodesc"
    writes_folder = True
    def export(self, volumes, output, options):
        return []

@hookimpl
def ownscan_exporters():
    return [Exp()]
"""

PRESET_WITHOUT_WIDTH = """
from ownscan.core.hookspecs import hookimpl

class Half:
    name = "half"
    level = 40

@hookimpl
def ownscan_window_presets():
    return [Half()]
"""

SPECNAME = """
from ownscan.core.hookspecs import hookimpl

@hookimpl(specname="ownscan_importers")
def importers():
    return []
"""


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("pl_"):
            del sys.modules[name]


def _module(folder: Path, name: str, code: str) -> ModuleType:
    (folder / f"{name}.py").write_text(textwrap.dedent(code))
    return importlib.import_module(name)


def _importers(folder: Path, name: str, marker: str = "") -> ModuleType:
    return _module(
        folder, f"pl_{name}", IMPORTERS.replace("{name}", name).replace("{marker}", marker)
    )


def test_hooks_go_through_pluggy_tracing_sees_every_call(plugin_dir: Path) -> None:
    host = PluginHost(extra_plugins=[("a", _importers(plugin_dir, "aaa"))])
    calls: list[tuple[str, list[str]]] = []

    def before(hook_name, impls, kwargs):
        calls.append((hook_name, [impl.plugin_name for impl in impls]))

    undo = host.pm.add_hookcall_monitoring(before, lambda *a: None)
    try:
        names = [imp.name for imp in host.importers()]
    finally:
        undo()
    assert "aaa" in names and "folder" in names
    # one call per plugin, each narrowed to that plugin
    assert all(hook == "ownscan_importers" and len(impls) == 1 for hook, impls in calls)
    assert sorted(impls[0] for _, impls in calls) == sorted(
        p.name for p in host.plugins if hasattr(p.module, "ownscan_importers")
    )


def test_a_wrapper_wraps_each_plugins_call_and_may_change_it(plugin_dir: Path) -> None:
    wrapper = _module(plugin_dir, "pl_wrapper", WRAPPER)
    host = PluginHost(
        extra_plugins=[
            ("shown", _importers(plugin_dir, "shown")),
            ("hidden", _importers(plugin_dir, "hidden")),
            ("wrapper", wrapper),
        ]
    )
    names = [imp.name for imp in host.importers()]
    assert "shown" in names and "hidden" not in names
    assert ["hidden"] in wrapper.SEEN and ["folder"] in wrapper.SEEN
    assert not host.broken


def test_a_failing_wrapper_breaks_its_own_plugin_only(plugin_dir: Path) -> None:
    host = PluginHost(
        extra_plugins=[
            ("a", _importers(plugin_dir, "aaa")),
            ("badwrap", _module(plugin_dir, "pl_badwrap", BAD_WRAPPER)),
        ]
    )
    names = [imp.name for imp in host.importers()]
    assert {"aaa", "folder"} <= set(names)  # built-ins and the innocent plugin go on
    (broken,) = host.broken
    assert broken.name == "badwrap"
    assert broken.reason == "its wrapper of ownscan_importers raised: RuntimeError: wrapper bug"


def test_tryfirst_and_trylast_order_the_contributions(plugin_dir: Path) -> None:
    host = PluginHost(
        extra_plugins=[
            ("late", _importers(plugin_dir, "late", "(trylast=True)")),
            ("plain", _importers(plugin_dir, "plain")),
            ("early", _importers(plugin_dir, "early", "(tryfirst=True)")),
        ]
    )
    names = [imp.name for imp in host._collect("ownscan_importers")]
    assert names[0] == "early" and names[-1] == "late"
    # otherwise registration order: the built-ins, then "plain"
    builtins = [imp.name for imp in PluginHost()._collect("ownscan_importers")]
    assert names[1:-1] == [*builtins, "plain"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (EXPORTER_WITHOUT_DESCRIPTION, r"its exporter .* lacks description"),
        (PRESET_WITHOUT_WIDTH, r"its window preset .* lacks width"),
        (SPECNAME, r"implements ownscan_importers under another name \(specname\)"),
    ],
    ids=["exporter-protocol", "preset-protocol", "specname"],
)
def test_contributions_are_checked_against_the_protocols(
    plugin_dir: Path, code: str, reason: str
) -> None:
    host = PluginHost(extra_plugins=[("suspect", _module(plugin_dir, "pl_suspect", code))])
    host.contributions()
    (broken,) = host.broken
    assert broken.name == "suspect"
    assert re.search(reason, broken.reason), broken.reason


def _parser_for(host: PluginHost, command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"ownscan {command}")
    parser.add_argument("--via")
    host.add_options(parser, command)
    return parser


def test_builtin_flags_come_from_their_plugins() -> None:
    host = PluginHost()
    args = _parser_for(host, "import").parse_args(
        ["--password", "s3cret", "--study", "1.2.3", "--insecure", "--parallel", "2"]
    )
    assert plugin_options(args) == {
        "password": "s3cret",
        "study": "1.2.3",
        "insecure": True,
        "parallel": "2",
    }
    # flags not given are absent: the importer's own defaults apply
    assert plugin_options(_parser_for(host, "import").parse_args([])) == {}
    # each plugin adds only what makes sense for the command
    search = _parser_for(host, "search").parse_args(["--patient", "P1"])
    assert plugin_options(search) == {"patient": "P1"}
    with pytest.raises(SystemExit):
        _parser_for(host, "search").parse_args(["--password", "x"])
    # the library importer's --library is for commands that read a source
    assert plugin_options(_parser_for(host, "info").parse_args(["--library", "L"])) == {
        "library": "L"
    }


def test_disabling_a_plugin_removes_its_flags() -> None:
    host = PluginHost(disabled=["portal_zip"])
    with pytest.raises(SystemExit):
        _parser_for(host, "import").parse_args(["--password", "x"])


def test_a_third_party_importer_adds_its_flags_and_receives_them(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host = PluginHost(extra_plugins=[("tarlike", _module(plugin_dir, "pl_options", OPTIONS))])
    monkeypatch.setattr(plugin_host, "_HOST", host)
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    help_text = capsys.readouterr().out
    assert "options of plugin tarlike:" in help_text and "--member-limit" in help_text
    source = plugin_dir / "scan.tarlike"
    source.write_bytes(b"")
    assert main(["info", str(source), "--member-limit", "7", "--strict"]) == 2
    err = capsys.readouterr().err
    assert err == f"ownscan info: error: {source}: saw [('member_limit', 7), ('strict', True)]\n"
    assert main(["info", str(source)]) == 2
    assert capsys.readouterr().err.endswith(": saw []\n")  # not given: absent
    # a command the plugin did not add its flags to refuses them
    with pytest.raises(SystemExit):
        main(["export", str(source), "--strict", "-o", str(plugin_dir / "out")])
    assert "unrecognized arguments: --strict" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (CLASHING_OPTION, "its option --password clashes with the one of plugin portal_zip ("),
        (RAISING_OPTION, "raised in ownscan_addoption: KeyError: 'no options today'"),
        (SHORT_OPTION, "raised in ownscan_addoption: ValueError: plugin options are long flags"),
    ],
    ids=["clash", "raises", "short-flag"],
)
def test_a_bad_addoption_breaks_only_its_plugin(plugin_dir: Path, code: str, reason: str) -> None:
    host = PluginHost(extra_plugins=[("suspect", _module(plugin_dir, "pl_suspect", code))])
    parser = _parser_for(host, "import")
    (broken,) = host.broken
    assert broken.name == "suspect" and broken.reason.startswith(reason), broken.reason
    # none of its flags stayed; the built-ins' work
    with pytest.raises(SystemExit):
        parser.parse_args(["--harmless", "x"])
    assert plugin_options(parser.parse_args(["--password", "p"])) == {"password": "p"}


def test_a_builtin_with_a_bad_option_is_a_bug(plugin_dir: Path) -> None:
    host = PluginHost()
    parser = argparse.ArgumentParser()
    parser.add_argument("--password")  # as if the command had taken a built-in's flag
    with pytest.raises(PluginError, match="built-in plugin portal_zip failed in ownscan_addoption"):
        host.add_options(parser, "import")


def test_help_loads_no_plugin() -> None:
    """``ownscan --help`` and commands without plugin flags never build the plugin host."""
    code = (
        "import sys\n"
        "from ownscan.core import cli, plugin_host\n"
        "for argv in (['--help'], ['list', '--help'], ['check', '--help']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert plugin_host.current_host() is None\n"
        "assert not [m for m in sys.modules if m.startswith('ownscan.plugins.')]\n"
        "cli.build_parser('import')\n"
        "assert plugin_host.current_host() is not None\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
