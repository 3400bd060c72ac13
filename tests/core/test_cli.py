"""What a user sees when a command fails: one line, the traceback only with --debug."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ownscan.core import plugin_host
from ownscan.core.cli import EX_SOFTWARE, main
from ownscan.core.plugin_host import PluginHost

BUGGY = """
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import SourceItem

class Buggy:
    name = "buggy"
    description = "claims *.buggy and then fails in iter_items"
    priority = 5
    def claims(self, source):
        return source.endswith(".buggy")
    def iter_items(self, source, options):
        yield SourceItem(origin=source, data=b"first")
        return _helper(source)

def _helper(source):
    raise KeyError("missing-tag")

class Unreadable:
    name = "unreadable"
    description = "claims *.unreadable and reports an OSError, as a reader should"
    priority = 5
    def claims(self, source):
        return source.endswith(".unreadable")
    def iter_items(self, source, options):
        raise OSError(f"{source}: cannot read sector 17")

class Garbage:
    name = "garbage"
    description = "yields something that is not a SourceItem"
    priority = 5
    def claims(self, source):
        return source.endswith(".garbage")
    def iter_items(self, source, options):
        yield 42

@hookimpl
def ownscan_importers():
    return [Buggy(), Unreadable(), Garbage()]
"""


@pytest.fixture
def host_with_buggy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process-wide host, with a third-party plugin whose importer has a bug."""
    (tmp_path / "buggy_cli_plugin.py").write_text(textwrap.dedent(BUGGY))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("buggy_cli_plugin")
    host = PluginHost(extra_plugins=[("buggy", module)])
    monkeypatch.setattr(plugin_host, "_HOST", host)
    for suffix in ("buggy", "unreadable", "garbage"):
        (tmp_path / f"scan.{suffix}").write_bytes(b"")
    yield tmp_path
    sys.modules.pop("buggy_cli_plugin", None)


def test_bug_in_a_plugin_is_one_line_naming_the_plugin(host_with_buggy: Path, capsys) -> None:
    rc = main(["plugins", "--source", str(host_with_buggy / "scan.buggy")])
    assert rc == EX_SOFTWARE
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith(
        "ownscan plugins: internal error in plugin buggy ((registered in code)): "
        "KeyError: 'missing-tag'"
    )
    assert "run again with --debug" in err


def test_bug_outside_plugins_is_one_line_too(host_with_buggy: Path, capsys) -> None:
    rc = main(["plugins", "--source", str(host_with_buggy / "scan.garbage")])
    assert rc == EX_SOFTWARE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ownscan plugins: internal error: AttributeError: ")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(host_with_buggy: Path, where: str) -> None:
    args = ["plugins", "--source", str(host_with_buggy / "scan.buggy")]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    with pytest.raises(KeyError, match="missing-tag"):
        main(args)


def test_expected_errors_are_one_line_with_status_2(host_with_buggy: Path, capsys) -> None:
    source = host_with_buggy / "scan.unreadable"
    assert main(["plugins", "--source", str(source)]) == 2
    err = capsys.readouterr().err
    assert err == f"ownscan plugins: error: {source}: cannot read sector 17\n"
    assert main(["plugins", "--source", str(source), "--via", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ownscan plugins: error: unknown importer 'nosuch'; valid: buggy, ")


def test_nobody_claims_lists_installed_importers(host_with_buggy: Path, capsys) -> None:
    assert main(["plugins", "--source", "dicom+nosuch://server/study"]) == 2
    err = capsys.readouterr().err
    names = [i.name for i in plugin_host.get_host().importers()]
    assert {"buggy", "unreadable", "garbage"} <= set(names)
    assert names[-1] == "folder"  # the fallback is asked last
    assert err == (
        "ownscan plugins: error: dicom+nosuch://server/study: no importer claims this source "
        f"(installed importers: {', '.join(names)}); check the path or URL, or "
        "install an importer plugin for it\n"
    )


def test_via_forces_an_importer(host_with_buggy: Path, capsys) -> None:
    source = host_with_buggy / "scan.buggy"
    assert main(["plugins", "--source", str(source), "--via", "folder"]) == 0
    out = capsys.readouterr().out
    assert "importer folder (forced by --via), from plugin folder (ownscan " in out
    assert "found: 1 application/dicom" in out
