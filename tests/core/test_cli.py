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
import errno

from ownscan.core.errors import UsageError
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
        raise OSError(errno.EIO, "cannot read sector 17", source)

class Garbage:
    name = "garbage"
    description = "yields something that is not a SourceItem"
    priority = 5
    def claims(self, source):
        return source.endswith(".garbage")
    def iter_items(self, source, options):
        yield 42

class Failing:
    # claims *.NAME and then raises exc
    priority = 5
    def __init__(self, name, exc):
        self.name = name
        self.description = f"claims *.{name} and then raises {type(exc).__name__}"
        self.exc = exc
    def claims(self, source):
        return source.endswith("." + self.name)
    def iter_items(self, source, options):
        raise self.exc

@hookimpl
def ownscan_importers():
    return [
        Buggy(),
        Unreadable(),
        Garbage(),
        # as numpy does: a plain ValueError is a bug
        Failing("numpybug", ValueError("operands could not be broadcast together")),
        # as a plugin should refuse an option value
        Failing("picky", UsageError("--option depth='deep' is not a number")),
        # an OSError about no file of the user's
        Failing("nofile", OSError("libfoo.so: cannot open shared object")),
    ]
"""


@pytest.fixture
def host_with_buggy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process-wide host, with a third-party plugin whose importer has a bug."""
    (tmp_path / "buggy_cli_plugin.py").write_text(textwrap.dedent(BUGGY))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("buggy_cli_plugin")
    host = PluginHost(extra_plugins=[("buggy", module)])
    monkeypatch.setattr(plugin_host, "_HOST", host)
    for suffix in ("buggy", "unreadable", "garbage", "numpybug", "picky", "nofile"):
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


def test_a_plain_value_error_is_a_bug_and_a_usage_error_is_not(
    host_with_buggy: Path, capsys
) -> None:
    """Only UsageError (an OwnscanError) is the user's mistake; a ValueError from deep inside
    (numpy, say) is a bug: status 70 and the "this is a bug" line."""
    assert main(["plugins", "--source", str(host_with_buggy / "scan.numpybug")]) == 70
    err = capsys.readouterr().err
    assert err.startswith(
        "ownscan plugins: internal error in plugin buggy ((registered in code)): ValueError: "
        "operands could not be broadcast together (a bug;"
    ), err
    assert main(["plugins", "--source", str(host_with_buggy / "scan.picky")]) == 2
    err = capsys.readouterr().err
    assert err == "ownscan plugins: error: --option depth='deep' is not a number\n"


def test_an_os_error_about_no_file_of_the_users_is_a_bug(host_with_buggy: Path, capsys) -> None:
    assert main(["plugins", "--source", str(host_with_buggy / "scan.nofile")]) == 70
    err = capsys.readouterr().err
    assert "internal error in plugin buggy" in err and "OSError: libfoo.so" in err, err


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
