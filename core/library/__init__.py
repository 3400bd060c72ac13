"""The private local library: every imported instance kept byte for byte, indexed in SQLite.

Public API::

    from ownscan.core.library import open_library

    with open_library() as lib:              # --library / $OWNSCAN_LIBRARY / user data dir
        report = lib.import_items(items)     # SourceItems from an importer
        for patient in lib.patients():
            for study in lib.studies(patient.key):
                for series in lib.series(study.study_uid):
                    ...
        volume = lib.load_volume(series_uid)

See :mod:`ownscan.core.library._library` for the parts (index, import session, maintenance)
and :mod:`ownscan.core.library._import` for how imports survive interruption.
"""

from __future__ import annotations

from ownscan.core.library._library import (
    ENV_VAR,
    Library,
    LibraryError,
    RemoveResult,
    default_location,
    open_library,
)
from ownscan.core.library._model import (
    CONFLICT,
    DOCUMENT,
    DUPLICATE,
    FAILED,
    IMPORTED,
    SKIPPED,
    CheckProblem,
    CheckReport,
    Conflict,
    Document,
    ImportReport,
    Instance,
    ItemResult,
    MergeProposal,
    Patient,
    Person,
    Series,
    SeriesWarnings,
    StackInfo,
    StoredRegistration,
    Study,
    TimelineEntry,
)
from ownscan.core.library._persons import name_key
from ownscan.core.library._schema import SCHEMA_VERSION

__all__ = [
    "CONFLICT",
    "DOCUMENT",
    "DUPLICATE",
    "ENV_VAR",
    "FAILED",
    "IMPORTED",
    "SCHEMA_VERSION",
    "SKIPPED",
    "CheckProblem",
    "CheckReport",
    "Conflict",
    "Document",
    "ImportReport",
    "Instance",
    "ItemResult",
    "Library",
    "LibraryError",
    "MergeProposal",
    "Patient",
    "Person",
    "RemoveResult",
    "Series",
    "SeriesWarnings",
    "StackInfo",
    "StoredRegistration",
    "Study",
    "TimelineEntry",
    "default_location",
    "name_key",
    "open_library",
]
