"""``ownscan info SOURCE``: the patients, studies and series in a source, without pixels."""

from __future__ import annotations

import argparse
import json

from ownscan.core.commands._common import add_source_arguments, read_source, report_problems

NAME = "info"
HELP = "list the patients, studies and series in a source (size, spacing, warnings)"
ORDER = 20
PLUGIN_OPTIONS = True  # plugins add their flags (ownscan_addoption)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def run(args: argparse.Namespace) -> int:
    source, found = read_source(args)
    if args.json:
        out = {
            "source": source,
            "series": [s.to_dict() for s in found.series],
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
            print(f"Patient {i.patient_name or '(no name)'}" + (f" ({extra})" if extra else ""))
        if i.study_instance_uid != study:
            study = i.study_instance_uid
            print(f"  Study {_date(i.study_date) or '(no date)'} {i.study_description}".rstrip())
        print(f"    [{n}] Series {s.label}: {s.describe()}, {s.n_images} image(s)")
        for w in s.warnings:
            print(f"        warning: {w}")
    report_problems(found, NAME, skipped=not args.sample)
    if not found.series:
        print(f"no DICOM images found in {source}")
        return 1
    return 0
