"""The ``ownscan`` command line.

Subcommands live one per module in :mod:`ownscan.core.commands`; each module defines ``NAME``,
``HELP``, ``ORDER`` (position in ``--help``), ``add_arguments(parser)`` and ``run(args) -> int``.
They are found by listing that package, so a new command is a new file. Command modules keep
their heavy imports (numpy, pydicom, moderngl) inside ``run`` so that ``ownscan --help`` and
shell completion stay fast.

Errors that ownscan expects (:class:`~ownscan.core.errors.OwnscanError`, ``ValueError`` from bad
arguments, ``OSError`` from files) are printed as one line naming the file and the problem, and
exit with status 2; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
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


def _command_modules() -> list[ModuleType]:
    from ownscan.core import commands

    mods = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ownscan",
        description="See your own CT and MRI scans: import, browse, render and export them.",
    )
    parser.add_argument("--version", action="version", version=f"ownscan {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logging on errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        description = getattr(mod, "DESCRIPTION", mod.HELP)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=description)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="ownscan: %(levelname)s: %(message)s",
    )
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    from ownscan.core.errors import OwnscanError

    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("ownscan: interrupted", file=sys.stderr)
        return 130
    except (OwnscanError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"ownscan {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
