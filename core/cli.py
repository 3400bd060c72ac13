"""The ``ownscan`` command line.

Subcommands live one per module in :mod:`ownscan.core.commands`; each module defines ``NAME``,
``HELP``, ``ORDER`` (position in ``--help``), ``add_arguments(parser)`` and ``run(args) -> int``.
They are found by listing that package, so a new command is a new file. Command modules keep
their heavy imports (numpy, pydicom, moderngl) inside ``run`` so that ``ownscan --help`` and
shell completion stay fast. A command that sets ``PLUGIN_OPTIONS = True`` also gets the flags
plugins add for it (the ``ownscan_addoption`` hook): only when it is the command being run, so
the plugin host is built only for commands that need plugins, never for ``ownscan --help``.

What a user sees when something goes wrong:

- errors that ownscan expects are one line naming the file and the problem; status 2. They are
  :class:`~ownscan.core.errors.OwnscanError` (its :class:`~ownscan.core.errors.UsageError` for
  a bad option or value, whoever checks it: a command, core or a plugin), and an ``OSError``
  about the user's own files or disk (one that names a file, a full or read-only disk, a
  closed pipe);
- a ``MemoryError`` is the machine's limit: one line, status 2 (header values that would
  allocate more than a file can hold are refused long before, naming the file);
- any other exception is a bug, in ownscan or in a plugin: one line with the exception, the
  plugin it came from when it was raised in a third-party plugin's code, and "run with --debug";
  status 70 (``EX_SOFTWARE``). A plain ``ValueError`` (from numpy, say) is one of these, not a
  user error. A raw traceback helps nobody who just wants to see a scan;
- ``--debug`` (before or after the command name) shows debug logging and lets the exception
  propagate with its full traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.machinery
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["build_parser", "main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ownscan")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _module_names(paths: Sequence[str]) -> list[str]:
    """The modules and packages in the folders ``paths``, as ``pkgutil.iter_modules`` finds
    them, without its import of :mod:`inspect` (8 ms of every start)."""
    suffixes = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)
    names: list[str] = []
    for folder in paths:
        try:
            entries = sorted(os.listdir(folder))
        except OSError:
            continue
        for entry in entries:
            full = os.path.join(folder, entry)
            if os.path.isdir(full):
                if entry.isidentifier() and os.path.isfile(os.path.join(full, "__init__.py")):
                    name = entry
                else:
                    continue
            else:
                suffix = next((s for s in suffixes if entry.endswith(s)), None)
                if suffix is None:
                    continue
                name = entry[: -len(suffix)]
                if not name.isidentifier():
                    continue
            if name != "__init__" and name not in names:
                names.append(name)
    return names


def _command_modules() -> list[ModuleType]:
    from ownscan.core import commands

    mods = [
        importlib.import_module(f"{commands.__name__}.{name}")
        for name in _module_names(list(commands.__path__))
        if not name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``ownscan`` parser; with ``command``, that subcommand also gets its plugins' flags
    (when it takes them: ``PLUGIN_OPTIONS``), which loads the plugins."""
    parser = argparse.ArgumentParser(
        prog="ownscan",
        description="See your own CT and MRI scans: import, browse, render and export them.",
    )
    parser.add_argument("--version", action="version", version=f"ownscan {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logging on errors"
    )
    # --debug is accepted after the command name too (``ownscan info X --debug``); SUPPRESS
    # keeps the sub-parser from overwriting a --debug given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        description = getattr(mod, "DESCRIPTION", mod.HELP)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=description, parents=[common])
        mod.add_arguments(p)
        if command == mod.NAME and getattr(mod, "PLUGIN_OPTIONS", False):
            from ownscan.core.plugin_host import get_host

            get_host().add_options(p, mod.NAME)
        p.set_defaults(_run=mod.run)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: the first word that is not an option (the top-level
    options ``--debug``, ``--version`` and ``--help`` take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


# Commands that put volumes into GL textures: started again with glibc's huge pages for the
# driver's large blocks (the texture's page faults were 40 % of a CT's upload; _hugepages).
_HUGE_PAGE_COMMANDS = frozenset({"render", "view", "serve", "bench"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (the process's own, ``sys.argv[1:]``, when None: then a
    command in ``_HUGE_PAGE_COMMANDS`` may first start the process again with huge pages);
    returns the exit status."""
    if argv is None and _command_in(sys.argv[1:]) in _HUGE_PAGE_COMMANDS:
        from ownscan.core._hugepages import reexec_for_huge_pages

        reexec_for_huge_pages()  # returns only when not started again
    if _command_in(sys.argv[1:] if argv is None else argv) in _HUGE_PAGE_COMMANDS:
        from ownscan.core._heap import one_arena

        one_arena()  # what one stage frees, the next reuses (_heap)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_command_in(argv))
    except Exception as exc:  # a broken built-in plugin (PluginError): ownscan's own bug
        if "--debug" in argv:
            raise
        print(f"ownscan: internal error: {exc} (a bug; run again with --debug)", file=sys.stderr)
        return EX_SOFTWARE
    args = parser.parse_args(argv)
    from ownscan.core.text import escape_controls, redact_url

    handler = logging.StreamHandler()
    handler.setFormatter(_EscapingFormatter("ownscan: %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[handler])
    from ownscan.core._hugepages import started_again

    if started_again():
        logging.getLogger(__name__).debug(
            "started again with GLIBC_TUNABLES=%s (huge pages; OWNSCAN_HUGE_PAGES=0 turns "
            "this off)",
            os.environ.get("GLIBC_TUNABLES"),
        )
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    from ownscan.core.errors import OwnscanError

    try:
        rc = int(args._run(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return rc
    except BrokenPipeError:  # `ownscan info x | head`: the reader has what it wanted
        _quiet_stdout()
        return 128 + 13  # as a shell reports a program ended by SIGPIPE
    except KeyboardInterrupt:
        print("ownscan: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, OwnscanError) or _users_os_error(exc):
            line = escape_controls(redact_url(_one_line(exc)))
            print(f"ownscan {args.command}: error: {line}", file=sys.stderr)
            return 2
        if isinstance(exc, MemoryError):  # the machine's limit, not a bug; the size says why
            print(f"ownscan {args.command}: error: not enough memory ({exc})", file=sys.stderr)
            return 2
        # a bug: say so in one line, the traceback is behind --debug
        where = _plugin_of(exc)
        origin = f" in plugin {where}" if where else ""
        print(
            f"ownscan {args.command}: internal error{origin}: {type(exc).__name__}: "
            f"{escape_controls(str(exc))} "
            "(a bug; run again with --debug for the traceback and report it)",
            file=sys.stderr,
        )
        return EX_SOFTWARE


EX_SOFTWARE = 70  # sysexits.h: internal software error


class _EscapingFormatter(logging.Formatter):
    """Log lines with control characters escaped: a message may quote a file's text."""

    def format(self, record: logging.LogRecord) -> str:
        from ownscan.core.text import escape_controls, redact_url

        # line by line: a traceback (--debug) keeps its lines
        text = redact_url(super().format(record))
        return "\n".join(escape_controls(ln) for ln in text.split("\n"))


# OSErrors about the user's machine rather than about ownscan's code, even without a file name
_USER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EPIPE, errno.EIO})


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit finds no closed pipe (and
    prints no "Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured by a caller): nothing to quiet
        pass


def _one_line(exc: BaseException) -> str:
    """The message: ``FILE: reason`` for an ``OSError`` that names its file (rather than
    Python's ``[Errno 2] No such file or directory: 'FILE'``), else the exception's text."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def _users_os_error(exc: BaseException) -> bool:
    """An ``OSError`` about the user's files or disk: it names a file (missing, not allowed, a
    folder where a file belongs...), or the disk is full or read-only, or the reader of the
    output went away. Other ``OSError`` s (a library that fails to load, say) are bugs."""
    if not isinstance(exc, OSError):
        return False
    return exc.filename is not None or exc.errno in _USER_ERRNOS


def _plugin_of(exc: BaseException) -> str | None:
    """``"NAME (DIST VERSION)"`` when ``exc`` was raised in a third-party plugin's code.

    The traceback is searched from where the exception was raised outwards for a frame in a
    module of a loaded third-party plugin's package.
    """
    from ownscan.core.plugin_host import current_host

    host = current_host()
    if host is None:
        return None
    packages: dict[str, str] = {}
    for info in host.plugins:
        obj = info.module
        module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__
        root = module.split(".")[0]
        if not info.builtin and root != "ownscan":
            packages[root] = info.label
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        module = frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.split(".")[0] in packages:
            return packages[module.split(".")[0]]
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
