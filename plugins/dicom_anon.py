"""The ``dicom-anon`` exporter: de-identified copies of the original DICOM files.

What it does: DICOM PS3.15 Annex E, the **Basic Application Level Confidentiality Profile**, with
the **Retain Longitudinal Temporal Information with Modified Dates Option** (every date of the
export moved by one fixed number of days, ``--date-offset``, so intervals between studies stay
right) and **UIDs remapped consistently across the whole export** (one map for every series:
series of a study stay one study, references between instances resolve). Pixel data are copied
byte for byte. Each file gets ``PatientIdentityRemoved`` YES, ``DeidentificationMethod`` and a
``DeidentificationMethodCodeSequence`` (DCM 113100 Basic Application Confidentiality Profile,
113107 Retain Longitudinal Temporal Information Modified Dates Option), and
``LongitudinalTemporalInformationModified`` MODIFIED. The rules in detail:
:mod:`ownscan.plugins._deid`.

Which anonymiser, and why: both candidates on PyPI were read against the profile.

- **dicognito** (0.19): well kept and consistent within one run, but it is a fixed recipe, not
  the profile: it replaces names, IDs, UIDs, addresses and dates, yet keeps most of Table E.1-1's
  X attributes (Series/Study Description, Image Comments, Protocol Name, Patient's Age, Weight,
  Size...), keeps private attributes, and moves dates by a random offset of its own choosing
  (62-730 days) that cannot be set, so two exports cannot share one offset.
- **deid** (pydicom/deid 0.4): a recipe engine; its default recipe is its own selection of
  fields, not Table E.1-1, and meeting the profile would mean writing the table as a recipe.

Neither meets the profile, so the profile's table is applied here: Table E.1-1 as the
``dicom-anonymizer`` package publishes it (generated from the standard's XML, edition 2026c;
only its table is used, because its engine sets every date to ``00010101``).

Burned-in annotation: text drawn into the pixels (names on ultrasound, screenshots, some
CR/DX) cannot be removed without changing pixels, which this exporter never does. It warns,
naming the series and the reason (``BurnedInAnnotation`` YES, or a modality / image type that
usually carries it). Note also that a head CT or MR can be rendered into a recognisable face;
the profile does not cover that.

Output: ``OUTPUT/S001/IM00001.dcm``... one folder per series in the order given, file names
free of any patient data. Every file is written nameless and linked when complete, never over
an existing file; a series folder that exists already is not reused (the next free number is).
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ownscan.core.assembly import Series, Source
    from ownscan.core.plugin_types import OptionParser
    from ownscan.core.volume import Volume
    from ownscan.plugins._deid import Deidentifier

__all__ = ["DicomAnonExporter", "deidentifier_for", "read_source"]

log = logging.getLogger(__name__)

# The default offset when none is given: a random whole number of days in this range, drawn
# once per export (so not a secret anybody could look up, but not the same for everybody).
_RANDOM_OFFSET_DAYS = (-3650, -365)


def deidentifier_for(options: Mapping[str, Any]) -> Deidentifier:
    """One :class:`~ownscan.plugins._deid.Deidentifier` for a whole export, from the options
    ``date_offset`` (days; random in -3650..-365 when absent)."""
    from ownscan.plugins._deid import Deidentifier

    offset = options.get("date_offset")
    if offset is None:
        offset = random.SystemRandom().randint(*_RANDOM_OFFSET_DAYS)
    return Deidentifier(int(offset))


def read_source(source: Source) -> Dataset:
    """The whole dataset (pixel data included) of one file of a series."""
    import copy

    import pydicom

    if source.dataset is not None:
        return copy.deepcopy(source.dataset)
    if source.path is not None:
        return pydicom.dcmread(source.path, force=True)
    if source.data is not None:
        return pydicom.dcmread(io.BytesIO(source.data), force=True)
    raise ValueError(f"{source.origin}: nothing to read")


def dataset_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM Part 10 file (its transfer syntax and pixel bytes unchanged)."""
    from pydicom.filewriter import dcmwrite

    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def warn_burned_in(series: Series, ds: Dataset) -> None:
    """Log a warning when the pixels of ``series`` may carry burned-in identifying text."""
    from ownscan.plugins._deid import burned_in_reason

    reason = burned_in_reason(ds)
    if reason is not None:
        log.warning(
            "series %s: %s; identifying text drawn into the pixels is NOT removed "
            "(check the images before sharing them)",
            series.label,
            reason,
        )


class DicomAnonExporter:
    """De-identified DICOM (PS3.15 Annex E Basic Profile, dates moved by a fixed offset)."""

    name = "dicom-anon"
    description = (
        "de-identified DICOM (PS3.15 Annex E Basic Profile; dates moved by --date-offset days; "
        "UIDs remapped consistently)"
    )
    writes_folder = True

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Refused: de-identified DICOM is made from the original files, not from voxels."""
        raise UsageError(
            "dicom-anon rewrites the original DICOM files; use `ownscan export SOURCE "
            "--format dicom-anon` (or export_sources with the series)"
        )

    def export_sources(
        self, series: Sequence[Series], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write a de-identified copy of every file of ``series`` under the folder ``output``.

        Parameters
        ----------
        series
            The series to export; one UID map and one date offset serve them all.
        output
            A folder (created if needed): one ``S###`` folder per series inside.
        options
            ``date_offset`` (int days, optional).

        Returns
        -------
        list of Path
            Every file written.
        """
        from ownscan.core.files import PartFile

        output = Path(output)
        if output.exists() and not output.is_dir():
            raise UsageError(f"{output}: --output must be a folder for the dicom-anon format")
        output.mkdir(parents=True, exist_ok=True)
        deid = deidentifier_for(options)
        written: list[Path] = []
        for s in series:
            folder = _new_folder(output, "S")
            for n, source in enumerate(s.sources, start=1):
                ds = read_source(source)
                if n == 1:
                    warn_burned_in(s, ds)
                deid.apply(ds)
                with PartFile(folder) as part:
                    part.write(dataset_bytes(ds), 0)
                    written.append(part.commit(lambda n=n, d=folder: _free(d / f"IM{n:05d}.dcm")))
        return written


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``parent/PREFIX###`` (the first number free)."""
    n = 1
    while True:
        folder = parent / f"{prefix}{n:03d}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1


def _free(path: Path) -> Path:
    """``path``, or ``path`` with ``_2``, ``_3``... when taken (PartFile retries on a race)."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


@hookimpl
def ownscan_exporters() -> list[DicomAnonExporter]:
    return [DicomAnonExporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command == "export":
        parser.add_argument(
            "--date-offset",
            type=int,
            metavar="DAYS",
            help="dicom-anon, share --anonymise: move every date by DAYS (e.g. -1000); give "
            "the same number to later exports so their dates line up (default: random, "
            "between -3650 and -365)",
        )
