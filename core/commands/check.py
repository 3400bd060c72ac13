"""``ownscan check [--repair]``: verify the library's index against its files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ownscan.core.text import escape_controls

NAME = "check"
HELP = "verify your library (index against files) and repair what is safe to repair"
ORDER = 80
_INFO_SHOWN = 3  # information lines of one kind named one by one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    add_library_argument(parser)
    parser.add_argument(
        "--repair",
        action="store_true",
        help="fix what is safe: remove partial files, adopt orphan files, fix permissions",
    )
    parser.add_argument(
        "--quick", action="store_true", help="check presence and size only, do not re-hash files"
    )


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import Progress, open_from_args
    from ownscan.core.library import default_location

    root = Path(args.library) if args.library else default_location()
    # a library whose index is gone (objects/ without index.sqlite): --repair rebuilds it
    rebuild = args.repair and (root / "objects").is_dir()
    with open_from_args(args, create=rebuild) as lib:
        progress = Progress("checking")
        try:
            rep = lib.check(args.repair, verify_hashes=not args.quick, progress=progress.update)
        finally:
            progress.close()
        root = lib.root
    shown: dict[tuple[str, str], int] = {}
    for p in rep.problems:
        # what an interrupted import left is expected and set right: information, not alarm;
        # a killed import can leave thousands of files, so a few of each kind are named
        state = "info    " if p.info else "repaired" if p.repaired else "PROBLEM "
        if p.info:
            seen = shown[p.kind, p.message] = shown.get((p.kind, p.message), 0) + 1
            if seen > _INFO_SHOWN:
                continue
        print(escape_controls(f"{state}  {p.kind:<18} {p.path}: {p.message}"))
    for (kind, message), n in shown.items():
        if n > _INFO_SHOWN:
            print(escape_controls(f"info      {kind:<18} and {n - _INFO_SHOWN} more: {message}"))
    left = rep.unrepaired
    hashed = "" if args.quick else ", hashes verified"
    summary = (
        f"{rep.instances} instances, {rep.documents} documents, {rep.files_checked} files "
        f"checked{hashed}"
    )
    if left:
        hint = "" if args.repair else "; run `ownscan check --repair` to fix what is safe"
        print(f"ownscan check: {root}: {len(left)} problem(s) left ({summary}){hint}")
        return 1
    informed = len(rep.information)
    fixed = len(rep.problems) - informed
    notes = [f"{fixed} repaired"] if fixed else []
    if informed:
        notes.append(f"{informed} left by an interrupted import or removal, set right")
    print(f"ownscan check: {root}: consistent ({'; '.join([summary, *notes])})")
    return 0
