"""``ownscan remove series|study|patient ID``: take scans out of the library, files included."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ownscan.core.text import escape_controls

NAME = "remove"
HELP = "remove a series, a study or a patient from your library"
ORDER = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    parser.add_argument("what", choices=("series", "study", "patient"))
    parser.add_argument(
        "id",
        metavar="ID",
        help="a Series/Study Instance UID (or a unique start of one) as `ownscan list` shows, "
        "or a Patient ID (#KEY from `ownscan list --json` where two patients share an ID)",
    )
    add_library_argument(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import human_size, open_from_args
    from ownscan.core.library import LibraryError
    from ownscan.core.names import display_name

    with open_from_args(args, create=False) as lib:
        if args.what == "series":
            if "~" in args.id:  # UID~N names one stack, which is part of its series' files
                raise LibraryError(
                    f"{args.id}: one stack of a series of several cannot be removed alone; "
                    f"remove the series ({args.id.split('~')[0]}) with all its stacks"
                )
            uid = lib.resolve_series(args.id)
            se = next(s for s in lib.series() if s.series_uid == uid)
            what = (
                f"series {uid} ({se.modality} {se.description or 'no description'}, "
                f"{se.images} images, {human_size(se.size)})"
            )
            target: dict[str, Any] = {"series_uid": uid}
        elif args.what == "study":
            uid = lib.resolve_study(args.id)
            st = next(s for s in lib.studies() if s.study_uid == uid)
            what = (
                f"study {uid} of {display_name(st.patient_name)} ({st.date}, "
                f"{st.series} series, {st.images} images, {st.documents} documents, "
                f"{human_size(st.size)})"
            )
            target = {"study_uid": uid}
        else:
            patients = lib.patients()
            if args.id.startswith("#") and args.id[1:].isdigit():
                found = [p for p in patients if p.key == int(args.id[1:])]
            else:
                found = [p for p in patients if p.patient_id == args.id]
            if not found:
                raise LibraryError(f"{lib.root}: no patient with ID {args.id!r} in the library")
            if len(found) > 1:
                keys = ", ".join(f"#{p.key} ({p.name})" for p in found)
                raise LibraryError(f"{len(found)} patients have ID {args.id!r}: give one of {keys}")
            p = found[0]
            what = (
                f"patient {p.name or '(no name)'} (ID {p.patient_id}, {p.studies} studies, "
                f"{p.images} images, {human_size(p.size)})"
            )
            target = {"patient_key": p.key}
        if not args.yes:
            if not sys.stdin.isatty():
                print(
                    escape_controls(f"ownscan remove: would remove {what}; add --yes to confirm"),
                    file=sys.stderr,
                )
                return 1
            answer = input(
                escape_controls(f"Remove {what} from {lib.root}? This deletes its files. [y/N] ")
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("ownscan remove: nothing removed")
                return 1
        result = lib.remove(**target)
    print(
        f"ownscan remove: removed {result.series} series, {result.instances} images, "
        f"{result.documents} documents ({human_size(result.size)})"
    )
    return 0
