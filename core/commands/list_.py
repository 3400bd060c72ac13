"""``ownscan list``: what the library holds, grouped by person, each person's studies as a
timeline.

A person is one human being across hospitals (``ownscan person``; patients that nobody merged
are persons of their own). Under each person's heading (name, birth date, patient IDs), every
study from every hospital by date: modality, body part, the hospital's name, whether a report
is kept, the study's description; under each study its series (number, description, images,
size, Series UID) and its PDF documents. The table fits the terminal: the Series UID is left
out first, then the description, hospital and body part columns are cut. ``--json`` gives the
same as data (``persons`` with their ``timeline``), beside the per-patient tree of before.
"""

from __future__ import annotations

import argparse
import json
import shutil
from typing import TYPE_CHECKING, Any

from ownscan.core.text import escape_controls

if TYPE_CHECKING:
    from ownscan.core.library import Library

NAME = "list"
HELP = "list your library: each person's studies from every hospital, by date, with series"
ORDER = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    add_library_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _patient_tree(lib: Library) -> list[dict[str, Any]]:
    """The per-patient tree of ``--json`` (``patients``): studies, series, documents."""
    tree: list[dict[str, Any]] = []
    for p in lib.patients():
        studies = []
        for st in lib.studies(p.key):
            studies.append(
                {
                    "study": st.__dict__,
                    "series": [_series_dict(se) for se in lib.series(st.study_uid)],
                    "documents": [d.__dict__ for d in lib.documents(st.study_uid)],
                }
            )
        tree.append({"patient": p.__dict__, "studies": studies})
    return tree


def _series_dict(se: Any) -> dict[str, Any]:
    out = {k: v for k, v in se.__dict__.items() if k not in ("thumbnail", "stacks")}
    # a series of several stacks: each with the name that opens it (UID~N); null while the
    # library has not recorded them (an older library opened read-only)
    out["stacks"] = (
        None
        if se.stacks is None
        else [{"id": f"{se.series_uid}~{st.number}", **st.__dict__} for st in se.stacks]
    )
    return out


def _persons(lib: Library) -> list[dict[str, Any]]:
    """Every person with its timeline; each study with its series and documents."""
    from ownscan.core.commands.person import entry_dict, person_dict

    out = []
    for person in lib.persons():
        timeline = []
        for e in lib.timeline(person):
            entry = entry_dict(e)
            entry["series_list"] = [_series_dict(se) for se in lib.series(e.study_uid)]
            entry["documents"] = [d.__dict__ for d in lib.documents(e.study_uid)]
            timeline.append(entry)
        out.append({**person_dict(person), "timeline": timeline})
    return out


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import open_from_args

    with open_from_args(args, create=False, read_only=True) as lib:
        persons = _persons(lib)
        proposed = [dict(m.__dict__) for m in lib.propose_person_merges()]
        loose = [d.__dict__ for d in lib.documents() if d.study_uid is None]
        conflicts = [c.__dict__ for c in lib.conflicts()]
        patients = _patient_tree(lib) if args.json else []
        root = str(lib.root)
    if args.json:
        out = {
            "library": root,
            "persons": persons,
            "proposed_merges": proposed,
            "patients": patients,
            "unlinked_documents": loose,
            "conflicts": conflicts,
        }
        print(json.dumps(out, indent=2))
        return 0
    if not persons and not loose:
        print(f"The library at {root} is empty. Add scans with `ownscan import SOURCE`.")
        return 0
    _print_table(persons)
    for d in loose:
        print(
            escape_controls(
                f"document not linked to a study (import #{d['import_id']}): {d['title']} "
                f"({_size(d['size'])}) {d['path']}"
            )
        )
    if conflicts:
        print(
            f"{len(conflicts)} conflicting file(s) kept aside (same SOP Instance UID as a held "
            f"instance, different bytes) in {root}/conflicts"
        )
    columns = shutil.get_terminal_size((120, 24)).columns
    for m in proposed:
        a, b = m["person_keys"]
        said = escape_controls(f"persons {a} and {b} may be one person: {m['reason']}")
        print(_cut(said, columns - 1))
        print(f"  yes: ownscan person merge {a} {b}    no: ownscan person reject {a} {b}")
    return 0


def _size(n: int) -> str:
    from ownscan.core.commands._library_args import human_size

    return human_size(n)


# DATE and two spaces, REPORT, IMAGES, SIZE and the spaces between the columns
_FIXED = 10 + 2 + 1 + 6 + 1 + 6 + 1 + 9 + 3


def _widths(rows: list[list[str]], uid: int) -> tuple[int, int, int, int, bool]:
    """Widths of the modality, body part, hospital and description columns, and whether the
    Series UID fits, for the terminal's width (a pipe: 120 columns). The UID goes first, then
    the columns are cut, the description last."""

    def need(i: int, least: int) -> int:
        return max([least, *(len(r[i]) for r in rows)])

    wm = min(8, need(1, 3))
    wb, wh, wd = need(2, 9), need(3, 8), need(5, 14)
    room = shutil.get_terminal_size((120, 24)).columns - 1 - _FIXED - wm  # no wrap at the end
    if wb + wh + wd + 2 + uid <= room:
        return wm, wb, wh, wd, True
    wb = max(9, min(wb, room // 6))
    wh = max(8, min(wh, room // 4))
    wd = max(14, min(wd, room - wb - wh))
    return wm, wb, wh, wd, False


def _print_table(persons: list[dict[str, Any]]) -> None:
    from ownscan.core.names import display_name

    # a person's heading, or the cells of a study or series row (see the header below)
    rows: list[str | list[str]] = []
    for p in persons:
        first = p["patients"][0]
        ids = ", ".join(dict.fromkeys(pt["patient_id"] for pt in p["patients"] if pt["patient_id"]))
        born = ", ".join(
            dict.fromkeys(_date(pt["birth_date"]) for pt in p["patients"] if pt["birth_date"])
        )
        head = display_name(first["name"]) + (f" ({ids})" if ids else "")
        head += f", born {born}" if born else ""
        if p["linked"]:
            head += f" [person {p['key']}: {len(p['patients'])} patient records merged]"
        rows.append(escape_controls(head))
        if not p["timeline"]:
            rows.append(["", "", "", "", "", "(no studies)", "", "", ""])
        for e in p["timeline"]:
            report = (
                "no" if not e["reports"] else "yes" if e["reports"] == 1 else f"yes {e['reports']}"
            )
            rows.append(
                [
                    _date(e["date"]) or "(no date)",
                    "/".join(e["modalities"]) or "-",
                    ", ".join(e["body_parts"]) or "-",
                    "; ".join(e["institutions"]) or "(not named)",
                    report,
                    e["description"] or "(no description)",
                    str(e["images"]),
                    _size(sum(se["size"] for se in e["series_list"])),
                    "",
                ]
            )
            for se in e["series_list"]:
                part = (se["body_part"] or "").upper()
                desc = se["description"] or "(no description)"
                if se["number"] is not None:
                    desc = f"{se['number']}: {desc}"
                if se["is_document"]:
                    desc = f"[document] {desc}"
                rows.append(
                    [
                        "",
                        se["modality"] or "-",
                        "" if part in e["body_parts"][:1] else part,
                        "",
                        "",
                        "  " + desc,
                        str(se["images"]),
                        _size(se["size"]),
                        se["series_uid"],
                    ]
                )
                stacks = se["stacks"] or []
                for st in stacks if len(stacks) > 1 else []:
                    # each stack of a series of several, with the name that opens it
                    rows.append(
                        ["", "", "", "", "", "    " + st["label"], str(st["images"]), "", st["id"]]
                    )
            for d in e["documents"]:
                if d["kind"] == "pdf":
                    rows.append(
                        ["", "", "", "", "", f"  document: {d['title']}", "", _size(d["size"]), ""]
                    )
    cells = [[escape_controls(c) for c in r] for r in rows if isinstance(r, list)]
    uid = max((len(c[8]) for c in cells), default=0)
    wm, wb, wh, wd, with_uid = _widths(cells, uid)
    print(
        f"{'DATE':<10}  {'MOD':<{wm}} {'BODY PART':<{wb}} {'HOSPITAL':<{wh}} {'REPORT':<6} "
        f"{'STUDY / SERIES':<{wd}} {'IMAGES':>6} {'SIZE':>9}" + ("  SERIES UID" if with_uid else "")
    )
    width = _FIXED + wm + wb + wh + wd
    for r in rows:
        if isinstance(r, str):
            print(_cut(r, width))
            continue
        c = [escape_controls(x) for x in r]
        line = (
            f"{c[0]:<10}  {_cut(c[1], wm):<{wm}} {_cut(c[2], wb):<{wb}} {_cut(c[3], wh):<{wh}} "
            f"{c[4]:<6} {_cut(c[5], wd):<{wd}} {c[6]:>6} {c[7]:>9}"
        )
        print((line + (f"  {c[8]}" if with_uid and c[8] else "")).rstrip())
