"""``ownscan search URL``: list the studies on a DICOMweb server without downloading them."""

from __future__ import annotations

import argparse
import json

NAME = "search"
HELP = "list the studies on a DICOMweb server (nothing is downloaded)"
DESCRIPTION = (
    "List the studies on a DICOMweb server (QIDO-RS): patient, date, description, modalities, "
    "series and image counts. Nothing is downloaded. Credentials come from "
    "OWNSCAN_DICOMWEB_USER and OWNSCAN_DICOMWEB_PASSWORD, or OWNSCAN_DICOMWEB_TOKEN, or a "
    "prompt on a terminal."
)
ORDER = 15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the DICOMweb root, e.g. https://host/dicom-web")
    add_filter_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The DICOMweb filters and connection flags (shared with ``ownscan import``)."""
    parser.add_argument("--patient", metavar="ID", help="only studies of this Patient ID")
    parser.add_argument(
        "--since", metavar="DATE", help="only studies on or after this date (YYYY-MM-DD)"
    )
    parser.add_argument("--study", metavar="UID", help="only the study with this Study UID")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's TLS certificate (only for a server you trust)",
    )


def run(args: argparse.Namespace) -> int:
    from ownscan.plugins.dicomweb import connect, search_studies

    with connect(args.url, insecure=args.insecure) as conn:
        studies = search_studies(conn, patient=args.patient, since=args.since, study=args.study)
        url = conn.url
    if args.json:
        print(json.dumps({"url": url, "studies": [s.as_dict() for s in studies]}, indent=2))
        return 0
    if not studies:
        print(f"{url}: no studies match")
        return 0
    rows = [
        ("PATIENT", "NAME", "DATE", "DESCRIPTION", "MODALITIES", "SERIES", "IMAGES", "STUDY UID")
    ]
    for s in studies:
        rows.append(
            (
                s.patient_id or "-",
                s.patient_name or "-",
                s.date or "-",
                s.description or "-",
                ",".join(s.modalities) or "-",
                "?" if s.series_count is None else str(s.series_count),
                "?" if s.instance_count is None else str(s.instance_count),
                s.study_uid,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    n = len(studies)
    print(f"{n} stud{'y' if n == 1 else 'ies'} on {url}")
    return 0
