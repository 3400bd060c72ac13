"""``ownscan report SOURCE``: a study's reports in the terminal, and what the radiologist marked.

SOURCE is a file, a folder (every document in it) or ``library:UID`` (a study or series of
the library, a UID or a unique start of one). Structured Reports are printed with their
headings, measurements and coded findings (``--html FILE`` / ``--pdf FILE`` write them);
encapsulated PDFs and PDF files are named and, with ``--extract DIR``, written out byte for
byte; key images, presentation states and measurements with coordinates are listed;
``--explain`` adds plain-language explanations of the report's terms from the built-in
glossary. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.text import escape_html

if TYPE_CHECKING:
    from ownscan.core.reports import Marks, StructuredReport

NAME = "report"
HELP = "show a study's reports (SR text, PDFs), key images and the radiologist's marks"
ORDER = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    parser.add_argument(
        "source", metavar="SOURCE", help="a file, a folder, or library:UID (a study or series)"
    )
    add_library_argument(parser)
    parser.add_argument("--html", metavar="FILE", help="write the Structured Report as HTML")
    parser.add_argument("--pdf", metavar="FILE", help="write the Structured Report as PDF")
    parser.add_argument(
        "--extract", metavar="DIR", help="write the PDFs (encapsulated or kept) into DIR"
    )
    parser.add_argument(
        "--explain", action="store_true", help="explain the report's terms in plain words"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _documents(args: argparse.Namespace) -> tuple[list[tuple[Path, str]], dict[str, str]]:
    """(path, how to name it to the user) of every candidate file of SOURCE, and for a library
    source how to name each of its images ("series 2 (Axial) image 14")."""
    from ownscan.core.errors import UsageError

    if args.source.startswith("library:"):
        from ownscan.core.commands._library_args import open_from_args
        from ownscan.core.library import LibraryError

        uid = args.source.split(":", 1)[1]
        labels: dict[str, str] = {}
        paths: list[Path] = []
        with open_from_args(args, create=False) as lib:
            try:
                study = lib.resolve_study(uid)
                series = lib.series(study)
                paths += [Path(d.path) for d in lib.documents(study) if d.kind == "pdf"]
            except LibraryError:
                # a stack (UID~N, as `ownscan list` names it): its series' reports
                one = lib.resolve_stack(uid).split("~")[0]
                series = [s for s in lib.series() if s.series_uid == one]
            for se in series:
                number = f"series {se.number}" if se.number is not None else "series"
                what = f"{number} ({se.description})" if se.description else number
                for inst in lib.instances(se.series_uid):
                    paths.append(Path(inst.path))
                    n = inst.instance_number
                    labels[inst.sop_instance_uid] = f"{what} image {n}" if n is not None else what
        return [(p, str(p)) for p in paths], labels
    root = Path(args.source)
    if root.is_dir():
        from ownscan.core.files import walk_files

        return [(p, str(p)) for p in walk_files(root)], {}
    if not root.exists():
        raise UsageError(f"{root}: no such file or folder")
    return [(root, str(root))], {}


def _free(path: Path) -> Path:
    """``path``, or ``path`` with -2, -3... before the suffix when it exists (never
    overwrite)."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _numbered(path: str, index: int) -> Path:
    p = Path(path)
    return p if index == 0 else p.with_name(f"{p.stem}-{index + 1}{p.suffix}")


def _safe_name(title: str) -> str:
    keep = "".join(c if c.isalnum() or c in " -_." else "_" for c in title).strip(" .")
    return (keep or "report")[:80]


def run(args: argparse.Namespace) -> int:
    from ownscan.core.errors import UsageError
    from ownscan.core.reports import (
        DocumentKind,
        Marks,
        ReportError,
        classify,
        encapsulated_pdf,
        read_marks,
        read_report,
    )
    from ownscan.core.text import escape_controls

    candidates, labels = _documents(args)
    found = [(p, name, classify(p)) for p, name in candidates]
    docs = [(p, name, kind) for p, name, kind in found if kind is not None]
    if not docs:
        raise UsageError(
            f"{args.source}: no report, key image selection, presentation state or PDF found"
        )
    reports: list[StructuredReport] = []
    marks = Marks()
    pdfs: list[tuple[str, str, bytes]] = []  # (file, title, bytes)
    problems: list[str] = []
    for path, name, kind in docs:
        try:
            if kind is DocumentKind.SR:
                reports.append(read_report(path))
                marks.extend(read_marks(path))
            elif kind in (DocumentKind.KOS, DocumentKind.PRESENTATION_STATE):
                marks.extend(read_marks(path))
            elif kind is DocumentKind.DICOM_PDF:
                title, data = encapsulated_pdf(path)
                pdfs.append((name, title, data))
            else:
                pdfs.append((name, path.stem, path.read_bytes()))
        except (ReportError, OSError) as exc:
            problems.append(str(exc) if isinstance(exc, ReportError) else f"{name}: {exc}")
    written = _write_outputs(args, reports, pdfs, marks, labels)
    if args.json:
        print(json.dumps(_json(reports, marks, pdfs, problems, written, args.explain), indent=2))
        return 1 if problems else 0
    _print_text(reports, marks, pdfs, args.explain, labels)
    for line in written:
        print(line)
    for problem in problems:
        print(f"ownscan report: {escape_controls(problem)}", file=sys.stderr)
    return 1 if problems else 0


def _write_outputs(
    args: argparse.Namespace,
    reports: list[StructuredReport],
    pdfs: list[tuple[str, str, bytes]],
    marks: Marks,
    labels: dict[str, str],
) -> list[str]:
    from ownscan.core.errors import UsageError
    from ownscan.core.reports import report_html, write_report_pdf

    lines: list[str] = []
    if (args.html or args.pdf) and not reports:
        raise UsageError(f"{args.source}: no Structured Report to write (--html/--pdf)")
    for i, report in enumerate(reports):
        glossary_html, glossary_lines = _glossary_out(report) if args.explain else ("", [])
        marks_lines = _marks_lines(marks, labels, only=report.sop_instance_uid)
        extra_html = glossary_html
        if marks_lines:
            extra_html = (
                "<h2>Marked on the images</h2><ul>"
                + "".join(f"<li>{escape_html(m)}</li>" for m in marks_lines)
                + "</ul>"
                + extra_html
            )
        if args.html:
            target = _refuse_existing(_numbered(args.html, i))
            target.write_text(report_html(report, extra_html), encoding="utf-8")
            lines.append(f"wrote {target}")
        if args.pdf:
            target = _refuse_existing(_numbered(args.pdf, i))
            extra = ["", "Marked on the images:", *marks_lines] if marks_lines else []
            write_report_pdf(report, target, extra + glossary_lines)
            lines.append(f"wrote {target}")
    if args.extract:
        folder = Path(args.extract)
        folder.mkdir(parents=True, exist_ok=True)
        for _name, title, data in pdfs:
            target = _free(folder / f"{_safe_name(title)}.pdf")
            # O_EXCL: never overwrite a file that appeared meanwhile
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            lines.append(f"wrote {target} ({len(data)} bytes)")
    return lines


def _refuse_existing(path: Path) -> Path:
    from ownscan.core.errors import UsageError

    if path.exists():
        raise UsageError(f"{path}: exists; give another name (ownscan never overwrites)")
    return path


def _report_words(report: StructuredReport) -> str:
    from ownscan.core.reports import report_lines

    return "\n".join(text for _, kind, text in report_lines(report) if kind != "meta")


def _glossary_out(report: StructuredReport) -> tuple[str, list[str]]:
    from ownscan.core.reports import explain_terms

    terms = explain_terms(_report_words(report))
    if not terms:
        return "", []
    lines = ["", "Plain words (ownscan's glossary; ask your doctor what it means for you):"]
    parts = ["<h2>Plain words</h2><dl>"]
    for entry, written in terms:
        cite = "; ".join(f"{s.name} <{s.url}>" for s in entry.sources)
        lines += [f"  {written}: {entry.text}", f"    Sources: {cite}"]
        links = "; ".join(
            f'<a href="{html.escape(s.url)}">{html.escape(s.name)}</a>' for s in entry.sources
        )
        parts.append(
            f"<dt>{escape_html(written)}</dt><dd>{html.escape(entry.text)} "
            f"<small>Sources: {links}</small></dd>"
        )
    parts.append(
        "</dl><p><small>ownscan's glossary explains words; it does not interpret your "
        "report. Ask the doctor who ordered the scan.</small></p>"
    )
    return "".join(parts), lines


def _ref_text(images: Any, labels: dict[str, str]) -> str:
    if not images:
        return "every referenced image"
    shown = [
        labels.get(r.sop_instance_uid, r.sop_instance_uid)
        + (f" frame {','.join(map(str, r.frames))}" if r.frames else "")
        for r in images[:3]
    ]
    more = f" and {len(images) - 3} more" if len(images) > 3 else ""
    return ", ".join(shown) + more


def _pts(points: Any) -> str:
    return " ".join("(" + ", ".join(f"{v:g}" for v in p) + ")" for p in points)


def _marks_lines(marks: Marks, labels: dict[str, str], only: str | None = None) -> list[str]:
    """One line per mark (``only``: those of one document)."""
    out: list[str] = []
    for k in marks.key_images:
        if only and k.document != only:
            continue
        note = f": {k.description}" if k.description else ""
        out.append(f"key images ({k.title}, {len(k.images)}){note}")
        out += [f"  image {_ref_text([r], labels)}" for r in k.images]
    for w in marks.windows:
        if only and w.document != only:
            continue
        label = f" ({w.explanation})" if w.explanation else ""
        out.append(
            f"window centre {w.center:g} width {w.width:g}{label} on {_ref_text(w.images, labels)}"
        )
    for a in marks.displayed_areas:
        if only and a.document != only:
            continue
        scale = f" x{a.magnification:g}" if a.magnification else ""
        out.append(
            f"zoom: pixels {_pts([a.top_left])} to {_pts([a.bottom_right])}, "
            f"{a.size_mode.lower()}{scale} on {_ref_text(a.images, labels)}"
        )
    for n in marks.annotations:
        if only and n.document != only:
            continue
        what = f'"{n.text}" ' if n.text else ""
        arrow = f", pointing at {_pts([n.anchor])}" if n.anchor else ""
        where = _pts(n.points) if n.points else "(no box)"
        out.append(
            f"{n.shape.lower()} {what}{where} [{n.units.lower()}]{arrow} "
            f"on {_ref_text(n.images, labels)}"
        )
    return out


def _print_text(
    reports: list[StructuredReport],
    marks: Marks,
    pdfs: list[tuple[str, str, bytes]],
    explain: bool,
    labels: dict[str, str],
) -> None:
    from ownscan.core.reports import report_text
    from ownscan.core.text import escape_controls

    for i, report in enumerate(reports):
        if i:
            print()
        print(report_text(report), end="")
        if explain:
            _, lines = _glossary_out(report)
            for line in lines or ["", "Plain words: no glossary term in this report."]:
                print(escape_controls(line))
    lines = _marks_lines(marks, labels)
    if lines:
        print()
        print("What the radiologist marked")
        print("---------------------------")
        for line in lines:
            print(escape_controls(line))
    for name, title, data in pdfs:
        print()
        print(
            f"PDF report {escape_controls(title)!s} ({len(data)} bytes) in "
            f"{escape_controls(name)}; write it out with --extract DIR"
        )


def _json(
    reports: list[StructuredReport],
    marks: Marks,
    pdfs: list[tuple[str, str, bytes]],
    problems: list[str],
    written: list[str],
    explain: bool,
) -> dict[str, Any]:
    from dataclasses import asdict

    from ownscan.core.reports import explain_terms, report_lines

    return {
        "reports": [
            {
                "path": r.path,
                "title": r.title,
                "lines": [list(x) for x in report_lines(r)],
                "glossary": [
                    {
                        "term": e.term,
                        "written": w,
                        "text": e.text,
                        "sources": [asdict(s) for s in e.sources],
                    }
                    for e, w in explain_terms(_report_words(r))
                ]
                if explain
                else [],
            }
            for r in reports
        ],
        "marks": {
            "key_images": [asdict(k) for k in marks.key_images],
            "windows": [asdict(w) for w in marks.windows],
            "displayed_areas": [asdict(a) for a in marks.displayed_areas],
            "annotations": [asdict(a) for a in marks.annotations],
        },
        "pdfs": [{"file": n, "title": t, "size": len(d)} for n, t, d in pdfs],
        "written": written,
        "problems": problems,
    }
