"""The ``share`` exporter: a second-opinion package to hand to a doctor (IHE PDI layout).

What it writes. A DICOM File-set as IHE Portable Data for Imaging puts it on a CD: a
``DICOMDIR`` at the root (written by pydicom's :class:`~pydicom.fileset.FileSet`) that
references every image, the images in pydicom's standard tree of 8-character upper-case names
(``PT000000/ST000000/SE000000/IM000000``, ISO 9660 level 1 safe), ``README.TXT`` and a short
``INDEX.HTM`` for the recipient (IHE PDI's names for them: what the study holds and how to open
it), and the reports in ``REPORTS/`` (IHE PDI keeps other content out of the DICOM tree): the
PDFs given with ``--report FILE`` and those the library keeps with the study (imported beside
the images, or the PDF inside a DICOM Encapsulated PDF; the library of ``--library``, else the
default one, when there is one). The same tree as a folder (``--output DIR``), a ``.zip``
(``--zip``) or an ISO 9660 image with Joliet and Rock Ridge (``--iso``, written with pycdlib),
ready for a USB stick, an upload or a CD burner.

``--anonymise`` de-identifies the images as the ``dicom-anon`` exporter does (same profile,
same ``--date-offset``, one UID map for the package), and leaves the reports out with a
warning: a PDF's text cannot be de-identified. Burned-in annotation is warned about either way.

The images are the original files, re-encoded by pydicom with their transfer syntax and pixel
bytes unchanged. The DICOMDIR's PATIENT and STUDY records need a Patient ID, Study Date, Study
Time and Study ID; a copy whose value is empty gets a stand-in (``UNKNOWN``, ``19000101``,
``000000``, the study's number in the package), so that every file can be referenced.

Nothing appears half-written: the tree is built in a hidden folder beside the output and renamed
into place in one step (never over an existing path), and the zip and ISO are nameless files
linked when complete; the hidden folder is removed on every path out.
"""

from __future__ import annotations

import contextlib
import errno
import html
import logging
import os
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.hookspecs import hookimpl
from ownscan.core.recorded import one_line, shorten_names

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ownscan.core.assembly import Series
    from ownscan.core.plugin_types import OptionParser
    from ownscan.core.volume import Volume
    from ownscan.plugins._deid import Deidentifier

__all__ = ["ShareExporter", "build_package"]

log = logging.getLogger(__name__)

README = """\
This package holds medical images in DICOM format (IHE Portable Data for Imaging layout).

Open the file DICOMDIR with any DICOM viewer (for example Weasis, Horos, OsiriX,
RadiAnt, 3D Slicer, or the viewer of your PACS import tool). INDEX.HTM lists what is inside.
{anon}{warnings}
Made with ownscan.
"""


def _warnings_text(summary: list[dict[str, Any]]) -> str:
    """README.TXT's section on the series' warnings (none when no series has any)."""
    parts = []
    for n, s in enumerate(summary, start=1):
        if s["warnings"]:
            lines = "".join(f"  - {one_line(w)}\n" for w in s["warnings"])
            parts.append(f"Series {n} ({one_line(s['description']) or 'no description'}):\n{lines}")
    if not parts:
        return ""
    return f"\n{WARNINGS_HEAD}\n" + "".join(parts)


# what ownscan found in the series (info, render, the viewer and export say the same): for
# the doctor who opens the package, as the images alone may not tell their viewer
WARNINGS_HEAD = (
    "Warnings: ownscan found these in the images when it made this package (files named as\n"
    "they were before it):"
)


def _fill_record_keys(ds: Dataset, study_number: int) -> None:
    """Stand-ins for the values a DICOMDIR's PATIENT / STUDY records require, where empty."""
    for keyword, value in (
        ("PatientID", "UNKNOWN"),
        ("StudyDate", "19000101"),
        ("StudyTime", "000000"),
        ("StudyID", str(study_number)),
    ):
        if not str(ds.get(keyword, "") or "").strip():
            setattr(ds, keyword, value)


def build_package(
    series: Sequence[Series], root: Path, options: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Write the package tree into the new, empty folder ``root``.

    Returns
    -------
    list of dict
        One summary per series as written (after any de-identification): ``patient``,
        ``study``, ``date``, ``modality``, ``description``, ``images``, ``warnings`` (the
        series' warnings as an export records them).
    """
    from pydicom.fileset import FileSet

    from ownscan.plugins.dicom_anon import deidentifier_for

    deid = deidentifier_for(options) if options.get("anonymise") else None
    fs = FileSet()
    try:
        summary = _add_series(fs, series, deid)
        fs.write(root)
    finally:
        # FileSet stages every added dataset in a TemporaryDirectory of its own and has no
        # public way to remove it: without this, it is left to the garbage collector
        fs._stage["t"].cleanup()
    reports = [(Path(p).name, Path(p).read_bytes()) for p in options.get("report") or []]
    reports += library_reports(series, options)
    if reports and deid is not None:
        log.warning(
            "--anonymise: the %d report(s) are left out of the package (a PDF's text cannot "
            "be de-identified)",
            len(reports),
        )
        reports = []
    if reports:
        (root / "REPORTS").mkdir()
        for n, (_, data) in enumerate(reports, start=1):
            (root / "REPORTS" / f"REPORT{n:02d}.PDF").write_bytes(data)
    anon_note = "\nThe images were de-identified (names, IDs and dates changed).\n" if deid else ""
    readme = README.format(anon=anon_note, warnings=_warnings_text(summary))
    (root / "README.TXT").write_text(readme, encoding="utf-8")
    (root / "INDEX.HTM").write_text(_index_html(summary, reports, deid is not None), "utf-8")
    return summary


def library_reports(
    series: Sequence[Series], options: Mapping[str, Any]
) -> list[tuple[str, bytes]]:
    """The PDF reports the library keeps with the studies of ``series``, as ``(title,
    bytes)``: PDFs imported beside the images and the PDFs inside DICOM Encapsulated PDF
    instances (Structured Reports are not PDFs and stay out). The library is
    ``options["library"]`` (the ``--library`` flag), else the default one; no library there
    means no reports."""
    import pydicom

    from ownscan.core.library import LibraryError, open_library

    studies = {s.info.study_instance_uid for s in series if s.info.study_instance_uid}
    if not studies:
        return []
    try:
        lib = open_library(options.get("library"), create=False)
    except LibraryError:
        return []
    found: list[tuple[str, bytes]] = []
    with lib:
        for study in sorted(studies):
            for doc in lib.documents(study):
                if doc.kind == "pdf":
                    found.append((doc.title, Path(doc.path).read_bytes()))
                elif doc.kind == "dicom-pdf":
                    data = bytes(pydicom.dcmread(doc.path).EncapsulatedDocument)
                    found.append((doc.title, data))
    if found:
        log.info("share: %d report(s) kept in the library added", len(found))
    return found


def _add_series(
    fs: Any, series: Sequence[Series], deid: Deidentifier | None
) -> list[dict[str, Any]]:
    """Add every file of ``series`` to the File-set ``fs`` (de-identified by ``deid``)."""
    from ownscan.plugins.dicom_anon import read_source, warn_burned_in

    studies: dict[str, int] = {}
    summary = []
    for s in series:
        ds = None
        for n, source in enumerate(s.sources):
            ds = read_source(source)
            if n == 0:
                warn_burned_in(s, ds)
            if deid is not None:
                deid.apply(ds)
            study = str(ds.get("StudyInstanceUID", ""))
            _fill_record_keys(ds, studies.setdefault(study, len(studies) + 1))
            fs.add(ds)
        assert ds is not None
        summary.append(
            {
                "patient": str(ds.get("PatientName", "") or ""),
                "study": str(ds.get("StudyDescription", "") or ""),
                "date": str(ds.get("StudyDate", "") or ""),
                "modality": str(ds.get("Modality", "") or ""),
                "description": str(ds.get("SeriesDescription", "") or ""),
                "images": len(s.sources),
                # what info shows of the series, the files named without their folders
                "warnings": shorten_names(s.warnings, s.files),
            }
        )
    return summary


def _index_html(
    summary: list[dict[str, Any]], reports: list[tuple[str, bytes]], anonymised: bool
) -> str:
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{esc(s['date'])}</td><td>{esc(s['study'])}</td><td>{esc(s['modality'])}</td>"
        f"<td>{esc(s['description'])}</td><td>{s['images']}</td></tr>"
        for s in summary
    )
    links = "".join(
        f'<li><a href="REPORTS/REPORT{n:02d}.PDF">{esc(title)}</a></li>'
        for n, (title, _) in enumerate(reports, start=1)
    )
    patient = "de-identified" if anonymised else esc(summary[0]["patient"]) if summary else ""
    said = "".join(
        f"<li>Series {n} ({esc(s['description'])}): {esc(w)}</li>"
        for n, s in enumerate(summary, start=1)
        for w in s["warnings"]
    )
    warnings = (
        f"<h2>Warnings</h2><p>ownscan found these in the images when it made this package "
        f"(files named as they were before it):</p><ul>{said}</ul>"
        if said
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Medical images</title></head>
<body>
<h1>Medical images</h1>
<p>Patient: {patient}</p>
<p>These are DICOM images. Open the file <code>DICOMDIR</code> in a DICOM viewer
(Weasis, Horos, OsiriX, RadiAnt, 3D Slicer...).</p>
<table border="1" cellpadding="4">
<tr><th>Study date</th><th>Study</th><th>Modality</th><th>Series</th><th>Images</th></tr>
{rows}
</table>
{warnings}
{f"<h2>Reports</h2><ul>{links}</ul>" if links else ""}
<p><small>Made with ownscan.</small></p>
</body></html>
"""


def _zip_tree(root: Path, fp: Any) -> None:
    with zipfile.ZipFile(fp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())


def _iso_tree(root: Path, fp: Any) -> None:
    """An ISO 9660 level 1 image (8.3 names) with Joliet and Rock Ridge names of ``root``."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, joliet=3, rock_ridge="1.09", vol_ident="OWNSCAN")
    try:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            iso_name = "/" + rel.upper()
            if path.is_dir():
                iso.add_directory(iso_name, rr_name=path.name, joliet_path="/" + rel)
            else:
                iso.add_file(str(path), iso_name + ";1", rr_name=path.name, joliet_path="/" + rel)
        iso.write_fp(fp)
    finally:
        iso.close()


class ShareExporter:
    """A second-opinion package: DICOMDIR + images + reports + INDEX.HTM (folder, zip, iso)."""

    name = "share"
    description = (
        "second-opinion package, IHE PDI layout with DICOMDIR (folder, --zip or --iso; "
        "--anonymise; --report FILE)"
    )
    writes_folder = True

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Refused: a package holds the original DICOM files, not voxels."""
        raise UsageError(
            "share packages the original DICOM files; use `ownscan export SOURCE --format share`"
        )

    def export_sources(
        self, series: Sequence[Series], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write the package of ``series`` to ``output`` (a new folder, ``.zip`` or ``.iso``).

        Options: ``zip`` / ``iso`` (bool), ``anonymise`` (bool), ``date_offset`` (days),
        ``report`` (list of paths). Returns ``[output]``.
        """
        from ownscan.core.files import rename_new
        from ownscan.plugins._output import new_file, offer_once

        if options.get("zip") and options.get("iso"):
            raise UsageError("choose one of --zip and --iso")
        if not series:
            raise UsageError("nothing to package")
        for report in options.get("report") or []:
            if not Path(report).is_file():
                raise UsageError(f"--report {report}: no such file")
        output = Path(output)
        kind = "zip" if options.get("zip") else "iso" if options.get("iso") else None
        if kind is not None:
            output = new_file(output, (f".{kind}",), f"share --{kind}")
        elif output.exists() or output.is_symlink():
            raise FileExistsError(
                errno.EEXIST, "exists; it is not overwritten (choose a new folder)", str(output)
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = output.parent / f".{output.name}.ownscan-{os.getpid()}.part"
        staging.mkdir()
        try:
            build_package(series, staging, options)
            if kind is None:
                rename_new(staging, output)
                return [output]
            from ownscan.core.files import PartFile

            with PartFile(output.parent) as part:
                fd = os.dup(part.fd)
                with os.fdopen(fd, "w+b") as fp:
                    (_zip_tree if kind == "zip" else _iso_tree)(staging, fp)
                    fp.flush()
                return [part.commit(offer_once(output))]
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(staging)


@hookimpl
def ownscan_exporters() -> list[ShareExporter]:
    return [ShareExporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command != "export":
        return
    parser.add_argument("--zip", action="store_true", help="share: one .zip file")
    parser.add_argument("--iso", action="store_true", help="share: an ISO 9660 disc image")
    parser.add_argument(
        "--anonymise",
        "--anonymize",
        action="store_true",
        help="share: de-identify the images (as --format dicom-anon; reports are left out)",
    )
    parser.add_argument(
        "--report",
        action="append",
        type=Path,
        metavar="FILE",
        help="share: a report (PDF) to put in the package (repeatable)",
    )
