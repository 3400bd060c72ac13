"""``ownscan list``: what the library holds, one row per series, grouped by patient and study."""

from __future__ import annotations

import argparse
import json
from typing import Any

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


_FIXED = 1 + 10 + 2 + 1 + 1 + 4 + 1 + 6 + 1 + 9  # separators, date, modality, images, size


def _widths(rows: list[tuple[str, str, str, str, dict[str, Any]]]) -> tuple[int, int, int, bool]:
    """Widths of the patient, study and series columns, and whether the series UID fits, for
    the terminal's width (a pipe: 120 columns). The UID goes first, then the columns are cut,
    the patient's name last."""
    import shutil

    def need(i: int, least: int) -> int:
        return max([least, *(len(r[i]) for r in rows)])

    wp, ws, wd = need(0, 7), need(2, 5), need(3, 6)
    uid = max((len(r[4].get("series_uid", "")) for r in rows), default=0)
    room = shutil.get_terminal_size((120, 24)).columns - 1 - _FIXED  # no wrap at the end
    if wp + ws + wd + 2 + uid <= room:
        return wp, ws, wd, True
    wp = max(7, min(wp, room // 2))
    wd_need = wd
    wd = max(6, min(wd, (room - wp) * 3 // 5))
    ws = max(5, min(ws, room - wp - wd))
    wd = max(wd, min(wd_need, room - wp - ws))  # what the study leaves, to the series
    return wp, ws, wd, False


def run(args: argparse.Namespace) -> int:
    from ownscan.core.commands._library_args import human_size, open_from_args

    with open_from_args(args, create=False, read_only=True) as lib:
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
    from ownscan.core.names import display_name

    rows = []
    for entry in tree:
        p = entry["patient"]
        who = display_name(p["name"])
        if p["patient_id"]:
            who += f" ({p['patient_id']})"
        first_patient = True
        for s in entry["studies"]:
            st = s["study"]
            first_study = True
            for se in s["series"]:
                desc = se["description"] or "(no description)"
                if se["number"] is not None:
                    desc = f"{se['number']}: {desc}"
                if se["is_document"]:
                    desc = f"[document] {desc}"
                rows.append(
                    (
                        who if first_patient else "",
                        _date(st["date"]) if first_study else "",
                        st["description"] if first_study else "",
                        desc,
                        se,
                    )
                )
                first_patient = first_study = False
            for d in s["documents"]:
                if d["kind"] == "pdf":
                    rows.append(("", "", "", f"document: {d['title']}", d))
    wp, ws, wd, with_uid = _widths(rows)
    print(
        f"{'PATIENT':<{wp}} {'DATE':<10}  {'STUDY':<{ws}} {'SERIES':<{wd}} {'MOD':<4} "
        f"{'IMAGES':>6} {'SIZE':>9}" + ("  SERIES UID" if with_uid else "")
    )
    for who, date, study, desc, x in rows:
        if "series_uid" not in x:  # a PDF document of the study
            print(
                f"{'':<{wp}} {'':<10}  {_cut(desc, ws + wd + 1)} ({human_size(x['size'])}) "
                f"{x['path']}"
            )
            continue
        print(
            f"{_cut(who, wp):<{wp}} {date:<10}  {_cut(study, ws):<{ws}} {_cut(desc, wd):<{wd}} "
            f"{x['modality']:<4} {x['images']:>6} {human_size(x['size']):>9}"
            + (f"  {x['series_uid']}" if with_uid else "")
        )
    for d in loose:
        print(
            f"document not linked to a study (import #{d['import_id']}): {d['title']} "
            f"({human_size(d['size'])}) {d['path']}"
        )
    if conflicts:
        print(
            f"{len(conflicts)} conflicting file(s) kept aside (same SOP Instance UID as a held "
            f"instance, different bytes) in {root}/conflicts"
        )
    return 0
