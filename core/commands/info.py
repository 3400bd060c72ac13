"""``ownscan info SOURCE``: the patients, studies and series in a source, without pixels.

For a series of the library (``library:UID``) that holds several stacks, each stack's line is
followed by the words ``ownscan list`` shows of it and the name that asks for it alone
(``stack 2 of 3, axial, 8 images: library:UID~2``); ``library:UID~N`` says which stack of how
many it is (``stack 2 of 3, axial, 8 images (all 3 stacks: library:UID)``), since that stack's
files, read alone, no longer show the others.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ownscan.core.commands._common import (
    add_source_arguments,
    read_source,
    report_problems,
    source_name,
)
from ownscan.core.errors import OwnscanError
from ownscan.core.names import display_name
from ownscan.core.text import escape_controls as E

if TYPE_CHECKING:
    from ownscan.core.assembly import Assembly

NAME = "info"
LIBRARY = "library:"  # the library importer's sources (plugins/library.py)
HELP = "list the patients, studies and series in a source (size, spacing, warnings)"
ORDER = 20
PLUGIN_OPTIONS = True  # plugins add their flags (ownscan_addoption)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _library_stacks(
    args: argparse.Namespace, source: str, found: Assembly
) -> dict[int, tuple[dict[str, Any], str]]:
    """For a ``library:`` source: which stack each series of several stacks is, by the index
    of the series in ``found.series``: its ``number``, the ``count`` of stacks, the words
    (``label``) and the ``source`` that names it alone (for ``--json``), and the line said."""
    from ownscan.core._stacks import split_id, stack_label, stacks_of

    if not source.startswith(LIBRARY):
        return {}
    text, number = split_id(source[len(LIBRARY) :])
    position = {id(s): n for n, s in enumerate(found.series)}
    out: dict[int, tuple[dict[str, Any], str]] = {}
    if number is None:
        # the whole series: its stacks in the order the library numbers them (the same
        # assembly of the same stored files, core/library/_stacks.py)
        for uid in dict.fromkeys(s.uid for s in found.series):
            same = stacks_of([s for s in found.series if s.uid == uid])
            if len(same) > 1:
                for k, s in enumerate(same, 1):
                    label = stack_label(s, k, len(same))
                    alone = f"{LIBRARY}{uid}~{k}"
                    shown = {"number": k, "count": len(same), "label": label, "source": alone}
                    out[position[id(s)]] = (shown, f"{label}: {alone}")
        return out
    # one stack, read alone: which of how many, as `ownscan list` numbers them
    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import plugin_options

    with open_library(plugin_options(args).get("library"), create=False, read_only=True) as lib:
        uid = lib.resolve_series(text)
        stacks = lib.series_stacks(uid)
    if not 1 <= number <= len(stacks):  # (the importer refused such a name already)
        return {}
    label = stacks[number - 1].label
    shown = {
        "number": number,
        "count": len(stacks),
        "label": label,
        "source": f"{LIBRARY}{uid}~{number}",
    }
    line = f"{label} (all {len(stacks)} stacks: {LIBRARY}{uid})"
    return {n: (shown, line) for n, s in enumerate(found.series) if s.uid == uid}


def run(args: argparse.Namespace) -> int:
    source, found = read_source(args)
    stacks = _library_stacks(args, source, found)
    if args.json:
        out = {
            "source": source,
            "series": [
                {**s.to_dict(), **({"stack": stacks[n][0]} if n in stacks else {})}
                for n, s in enumerate(found.series)
            ],
            "skipped": [{"file": p.origin, "reason": p.reason} for p in found.skipped],
            "errors": [{"file": p.origin, "reason": p.reason} for p in found.errors],
        }
        print(json.dumps(out, indent=2))
        report_problems(found, NAME, skipped=not args.sample)
        return 0 if found.series else 1
    patient = study = None
    for n, s in enumerate(found.series, 1):
        i = s.info
        if (i.patient_id, i.patient_name) != patient:
            patient = (i.patient_id, i.patient_name)
            study = None
            extra = ", ".join(
                x
                for x in (
                    f"ID {i.patient_id}" if i.patient_id else "",
                    i.patient_sex,
                    f"born {_date(i.patient_birth_date)}" if i.patient_birth_date else "",
                )
                if x
            )
            who = display_name(i.patient_name)
            print(E(f"Patient {who}" + (f" ({extra})" if extra else "")))
        if i.study_instance_uid != study:
            study = i.study_instance_uid
            print(E(f"  Study {_date(i.study_date) or '(no date)'} {i.study_description}".rstrip()))
        print(E(f"    [{n}] Series {s.label}: {s.describe()}, {s.n_images} image(s)"))
        if n - 1 in stacks:
            print(E(f"        {stacks[n - 1][1]}"))
        for w in s.warnings:
            print(E(f"        warning: {w}"))
    report_problems(found, NAME, skipped=not args.sample)
    if not found.series:  # as render and export say it: "ownscan info: error: ...", exit 2
        raise OwnscanError(f"{source_name(args, source)}: no DICOM image series found")
    return 0
