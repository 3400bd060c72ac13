"""``ownscan search URL``: list the studies on a server without downloading them.

The importer that claims URL (``--via NAME`` picks one) does the searching through its optional
``search(source, options) -> SearchResult`` method (the DICOMweb importer has one); its plugin
adds the filter flags (``--patient``, ``--since``, ``--study``...) through ``ownscan_addoption``.
"""

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
PLUGIN_OPTIONS = True  # the filters come from the plugin that searches (ownscan_addoption)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the DICOMweb root, e.g. https://host/dicom-web")
    parser.add_argument("--via", metavar="NAME", help="use this importer (see ownscan plugins)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from ownscan.core.plugin_host import get_host, plugin_options
    from ownscan.core.plugin_types import ImportOptions

    importer = get_host().find_importer(args.url, args.via)
    search = getattr(importer, "search", None)
    if not callable(search):
        raise ValueError(
            f"{args.url}: the {importer.name} importer cannot list studies (it has no search)"
        )
    found = search(args.url, ImportOptions(extra=plugin_options(args)))
    url, studies = found.source, list(found.studies)
    if args.json:
        print(json.dumps({"url": url, "studies": [dict(s) for s in studies]}, indent=2))
        return 0
    if not studies:
        print(f"{url}: no studies match")
        return 0
    rows: list[list[str]] = [
        ["PATIENT", "NAME", "DATE", "DESCRIPTION", "MODALITIES", "SERIES", "IMAGES", "STUDY UID"]
    ]
    for s in studies:
        counts = [s.get("series_count"), s.get("instance_count")]
        rows.append(
            [
                str(s.get("patient_id") or "-"),
                str(s.get("patient_name") or "-"),
                str(s.get("date") or "-"),
                str(s.get("description") or "-"),
                ",".join(s.get("modalities") or ()) or "-",
                *("?" if n is None else str(n) for n in counts),
                str(s.get("study_uid") or "-"),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    n = len(studies)
    print(f"{n} stud{'y' if n == 1 else 'ies'} on {url}")
    return 0
