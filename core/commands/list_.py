"""``ownscan list``: what the library holds, one row per series, grouped by patient and study."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ownscan.core.text import escape_controls

NAME = "list"
HELP = "list the series in your library (grouped by patient and study)"
ORDER = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    add_library_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import human_size, open_from_args

    with open_from_args(args, create=False) as lib:
        tree: list[dict[str, Any]] = []
        for p in lib.patients():
            studies = []
            for st in lib.studies(p.key):
                studies.append(
                    {
                        "study": st.__dict__,
                        "series": [
                            {k: v for k, v in se.__dict__.items() if k != "thumbnail"}
                            for se in lib.series(st.study_uid)
                        ],
                        "documents": [d.__dict__ for d in lib.documents(st.study_uid)],
                    }
                )
            tree.append({"patient": p.__dict__, "studies": studies})
        loose = [d.__dict__ for d in lib.documents() if d.study_uid is None]
        conflicts = [c.__dict__ for c in lib.conflicts()]
        root = str(lib.root)
    if args.json:
        out = {"library": root, "patients": tree, "unlinked_documents": loose}
        out["conflicts"] = conflicts
        print(json.dumps(out, indent=2))
        return 0
    if not tree and not loose:
        print(f"The library at {root} is empty. Add scans with `ownscan import SOURCE`.")
        return 0
    header = (
        f"{'PATIENT':<24} {'DATE':<10}  {'STUDY':<24} {'SERIES':<26} {'MOD':<4} "
        f"{'IMAGES':>6} {'SIZE':>9}  SERIES UID"
    )
    print(header)
    for entry in tree:
        p = entry["patient"]
        who = p["name"] or "(no name)"
        if p["patient_id"]:
            who += f" ({p['patient_id']})"
        who = escape_controls(who)
        first_patient = True
        for s in entry["studies"]:
            st = s["study"]
            first_study = True
            for se in s["series"]:
                desc = escape_controls(se["description"] or "(no description)")
                if se["number"] is not None:
                    desc = f"{se['number']}: {desc}"
                if se["is_document"]:
                    desc = f"[document] {desc}"
                print(
                    f"{_cut(who if first_patient else '', 24):<24} "
                    f"{_date(st['date']) if first_study else '':<10}  "
                    f"{_cut(escape_controls(st['description']) if first_study else '', 24):<24} "
                    f"{_cut(desc, 26):<26} {se['modality']:<4} {se['images']:>6} "
                    f"{human_size(se['size']):>9}  {se['series_uid']}"
                )
                first_patient = first_study = False
            for d in s["documents"]:
                if d["kind"] == "pdf":
                    print(
                        f"{'':<24} {'':<10}  document: {escape_controls(d['title'])} "
                        f"({human_size(d['size'])}) {d['path']}"
                    )
    for d in loose:
        print(
            f"document not linked to a study (import #{d['import_id']}): "
            f"{escape_controls(d['title'])} "
            f"({human_size(d['size'])}) {d['path']}"
        )
    if conflicts:
        print(
            f"{len(conflicts)} conflicting file(s) kept aside (same SOP Instance UID as a held "
            f"instance, different bytes) in {root}/conflicts"
        )
    return 0
