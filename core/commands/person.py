"""``ownscan person``: one person, many hospitals.

``ownscan person`` lists the people in the library (each with its patient IDs and hospitals)
and the merges the library proposes; ``person show N`` prints one person's timeline (every
study from every hospital by date); ``person merge A B``, ``person split A`` and
``person reject A B`` confirm, undo and refuse a merge. Only index rows change: no stored file
is ever rewritten.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ownscan.core.library import Person, TimelineEntry

NAME = "person"
HELP = "people in your library across hospitals: list, show a timeline, merge, split"
ORDER = 22


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    add_library_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "action",
        nargs="?",
        default="list",
        metavar="ACTION",
        help="list (default): people and proposed merges; show N (or just N): the timeline of "
        "the person "
        "of patient N; merge A B...: these patients are one person; split A: take patient A "
        "out of its person; reject A B: A and B are not one person (not proposed again)",
    )
    parser.add_argument("patients", nargs="*", type=int, metavar="N", help="patient numbers")


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _text(value: str) -> str:
    """Text from a file, safe for a terminal: control characters shown escaped."""
    from ownscan.core.text import escape_controls

    return escape_controls(value)


def _name(dicom_name: str) -> str:
    """``DOE^JANE^^DR`` as ``DOE, JANE`` (the terminal's form; list_ has its own rules)."""
    parts = [p for p in dicom_name.split("=", 1)[0].split("^")[:3] if p]
    if not parts:
        return "(no name)"
    return _text(parts[0] + (", " + " ".join(parts[1:]) if len(parts) > 1 else ""))


def person_dict(p: Person) -> dict[str, Any]:
    """A person as ``--json`` gives it (``ownscan person`` and ``ownscan list``)."""
    return {
        "key": p.key,
        "linked": p.linked,
        "patients": [dict(pt.__dict__) for pt in p.patients],
        "institutions": list(p.institutions),
        "studies": p.studies,
        "first_date": p.first_date,
        "last_date": p.last_date,
    }


def entry_dict(e: TimelineEntry) -> dict[str, Any]:
    """A study of a timeline as ``--json`` gives it, with ``has_report``."""
    out = dict(e.__dict__)
    out["has_report"] = e.has_report
    return out


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import open_from_args
    from ownscan.core.errors import UsageError

    needs = {"list": (0, 0), "show": (1, 1), "merge": (2, 99), "split": (1, 1), "reject": (2, 2)}
    if args.action.isdigit():  # `ownscan person 3` shows person 3
        args.patients = [int(args.action), *args.patients]
        args.action = "show"
    if args.action not in needs:
        raise UsageError(
            f"ownscan person: unknown action {args.action!r}; use one of {', '.join(needs)}"
        )
    low, high = needs[args.action]
    if not low <= len(args.patients) <= high:
        want = "no patient number" if high == 0 else f"{low} patient number(s)"
        raise UsageError(f"ownscan person {args.action}: give {want} (see `ownscan person`)")
    with open_from_args(args, create=False) as lib:
        if args.action == "merge":
            person = lib.merge_persons(*args.patients)
            births = set(person.birth_dates)
            print(
                f"merged: patients {', '.join(str(p.key) for p in person.patients)} are now "
                f"person {person.key} (undo with `ownscan person split N`)"
            )
            if len(births) > 1:
                print(f"note: their birth dates differ ({', '.join(map(_date, sorted(births)))})")
            return 0
        if args.action == "split":
            lib.split_person(args.patients[0])
            print(f"split: patient {args.patients[0]} is a person of its own again")
            return 0
        if args.action == "reject":
            lib.reject_person_merge(*args.patients)
            print(
                f"noted: patients {args.patients[0]} and {args.patients[1]} are not one "
                "person; the library will not propose it again"
            )
            return 0
        if args.action == "show":
            person = lib.person(args.patients[0])
            entries = lib.timeline(person)
            if args.json:
                out = {
                    "person": person_dict(person),
                    "timeline": [entry_dict(e) for e in entries],
                }
                print(json.dumps(out, indent=2))
                return 0
            _print_person(person)
            _print_timeline(entries, several=len(person.patients) > 1)
            return 0
        people = lib.persons()
        proposed = lib.propose_person_merges()
    if args.json:
        print(
            json.dumps(
                {
                    "persons": [person_dict(p) for p in people],
                    "proposed_merges": [dict(m.__dict__) for m in proposed],
                },
                indent=2,
            )
        )
        return 0
    if not people:
        print("The library holds no one yet. Add scans with `ownscan import SOURCE`.")
        return 0
    for p in people:
        _print_person(p)
    if proposed:
        print()
        print("Proposed (the same name and birth date; you decide):")
        for m in proposed:
            a, b = m.person_keys
            print(f"  persons {a} and {b} may be one person: {_text(m.reason)}")
            print(f"    yes: ownscan person merge {a} {b}    no: ownscan person reject {a} {b}")
    return 0


def _print_person(p: Person) -> None:
    first = p.patients[0]
    born = ", ".join(_date(b) for b in p.birth_dates) or "birth date unknown"
    span = ""
    if p.first_date:
        span = f", {_date(p.first_date)}" + (
            f" to {_date(p.last_date)}" if p.last_date != p.first_date else ""
        )
    merged = " (merged)" if p.linked else ""
    print(
        f"Person {p.key}{merged}: {_name(first.name)}, born {born}, "
        f"{p.studies} stud{'y' if p.studies == 1 else 'ies'}{span}"
    )
    for pt in p.patients:
        print(
            f"  patient {pt.key}: ID {_text(pt.patient_id) or '(none)'}"
            + (f", {_name(pt.name)}" if pt.name != first.name else "")
            + (f", born {_date(pt.birth_date)}" if pt.birth_date not in p.birth_dates[:1] else "")
        )
    if p.institutions:
        print(f"  hospitals: {'; '.join(_text(i) for i in p.institutions)}")


def _print_timeline(entries: list[TimelineEntry], several: bool) -> None:
    if not entries:
        print("  no studies")
        return
    print()
    print(f"  {'DATE':<10}  {'MOD':<8} {'BODY PART':<14} {'HOSPITAL':<28} {'REPORT':<6} STUDY")
    for e in entries:
        mods = "/".join(e.modalities) or "-"
        parts = ", ".join(e.body_parts) or "-"
        place = "; ".join(e.institutions) or "(not named)"
        report = f"yes {e.reports}" if e.reports > 1 else ("yes" if e.reports else "no")
        study = e.description or "(no description)"
        if several:
            study += f"  [patient {e.patient_key}]"
        if e.marked:
            study += f"  (radiologist's marks: ownscan report library:{e.study_uid})"
        print(
            f"  {_date(e.date) or '(no date)':<10}  {_text(mods):<8} {_text(parts):<14} "
            f"{_text(place):<28} {report:<6} {_text(study)}"
        )
