"""Which earlier series to compare a series with, and registrations kept in the library.

A prior is proposed when it belongs to the same patient (the same patient row, the same
non-empty Patient ID, or the same name and birth date: a patient's other hospital gives
another ID), has the same modality and comes from an earlier study (an earlier date, or the same
date and an earlier time). Candidates are ranked by how alike they are (same body part, same
orientation of the slices, similar series description) and then by date, the most recent
first, so the best match comes first. Nothing stops a user from comparing any other series.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ownscan.core.compare._register import Registration

if TYPE_CHECKING:
    from ownscan.core.library import Library, Series, Study
    from ownscan.core.library._index import Index
    from ownscan.core.volume import SeriesInfo

__all__ = [
    "PriorCandidate",
    "load_registration",
    "patient_check",
    "propose_priors",
    "save_registration",
]


@dataclass(frozen=True)
class PriorCandidate:
    """A proposed prior series, with why it was proposed."""

    series: Series
    study: Study
    score: float
    reasons: tuple[str, ...]


def _norm_name(name: str) -> str:
    """Names compared without case, spaces or DICOM's ``^`` separators' trailing empties."""
    return " ".join(name.replace("^", " ").upper().split())


def patient_check(prior: SeriesInfo, current: SeriesInfo) -> tuple[bool, list[str]]:
    """Whether two series belong to the same patient, and the identifiers that differ.

    The same patient: the same name and birth date (the Patient ID may differ between
    hospitals), or the same Patient ID with neither name nor birth date contradicting it.
    Identifiers missing on either side are not counted as differing.

    Returns
    -------
    (same, differences)
        ``differences`` names each identifier that differs, with both values.
    """
    fields = (
        ("patient ID", prior.patient_id.strip(), current.patient_id.strip()),
        ("name", _norm_name(prior.patient_name), _norm_name(current.patient_name)),
        ("birth date", prior.patient_birth_date.strip(), current.patient_birth_date.strip()),
    )
    differences = [f"{what} {a!r} vs {b!r}" for what, a, b in fields if a and b and a != b]
    equal = {what for what, a, b in fields if a and a == b}
    if {"name", "birth date"} <= equal:
        return True, differences
    if "patient ID" in equal and not differences:
        return True, differences
    if not differences:
        differences = ["too few patient identifiers to tell (need the ID, or name and birth date)"]
    return False, differences


def _orientation(index: Index, series_uid: str) -> str:
    """``axial``, ``coronal``, ``sagittal`` or ``oblique`` from the first image's orientation;
    ``""`` when it cannot be told (no orientation in the top-level header)."""
    import pydicom

    instances = index.instances(series_uid)
    if not instances:
        return ""
    try:
        ds = pydicom.dcmread(
            instances[0].path, stop_before_pixels=True, specific_tags=["ImageOrientationPatient"]
        )
        iop = [float(v) for v in ds.ImageOrientationPatient]
    except (OSError, AttributeError, ValueError, TypeError, pydicom.errors.InvalidDicomError):
        return ""
    if len(iop) != 6:
        return ""
    normal = np.cross(iop[:3], iop[3:])
    length = float(np.linalg.norm(normal))
    if not length > 1e-6:  # parallel or empty vectors: no plane (assembly sets them apart)
        return ""
    normal = np.abs(normal / length)  # by direction: vectors of another length (docs/CORE.md)
    axis = int(np.argmax(normal))
    if normal[axis] < 0.9:  # more than ~25 degrees off every main plane
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def propose_priors(index: Index, series_uid: str) -> list[PriorCandidate]:
    """The library's earlier series that can serve as the prior of ``series_uid``, best first.

    Parameters
    ----------
    index
        An open library (or its index).
    series_uid
        The current series (a unique start of the UID is enough).
    """
    series_uid = index.resolve_series(series_uid)
    studies = {st.study_uid: st for st in index.studies()}
    patients = {p.key: p for p in index.patients()}
    all_series = index.series()
    current = next(s for s in all_series if s.series_uid == series_uid)
    cur_study = studies[current.study_uid]
    cur_patient = patients[cur_study.patient_key]
    cur_orientation = _orientation(index, series_uid)

    def same_patient(key: int) -> bool:
        if key == cur_patient.key:
            return True
        p = patients[key]
        if p.patient_id and p.patient_id == cur_patient.patient_id:
            return True
        return bool(
            p.name
            and p.birth_date
            and _norm_name(p.name) == _norm_name(cur_patient.name)
            and p.birth_date == cur_patient.birth_date
        )

    out: list[PriorCandidate] = []
    for se in all_series:
        st = studies.get(se.study_uid)
        if st is None or se.is_document or se.series_uid == series_uid:
            continue
        if st.study_uid == cur_study.study_uid or se.modality != current.modality:
            continue
        if not (st.date, st.time) < (cur_study.date, cur_study.time):
            continue
        if not same_patient(st.patient_key):
            continue
        score = 0.0
        reasons = [f"same patient, same modality ({se.modality}), earlier study ({st.date})"]
        if se.body_part and se.body_part == current.body_part:
            score += 2.0
            reasons.append(f"same body part ({se.body_part})")
        elif not se.body_part or not current.body_part:
            score += 1.0  # unknown is neither a match nor a mismatch
        orientation = _orientation(index, se.series_uid)
        if orientation and orientation == cur_orientation:
            score += 2.0
            reasons.append(f"same orientation ({orientation})")
        elif not orientation or not cur_orientation:
            score += 1.0
        similar = difflib.SequenceMatcher(
            None, se.description.upper(), current.description.upper()
        ).ratio()
        score += similar
        if similar > 0.8:
            reasons.append(f"similar description ({se.description})")
        out.append(PriorCandidate(se, st, round(score, 3), tuple(reasons)))
    # best match first; among equals the most recent study first
    out.sort(key=lambda c: (-c.score, _negated(c.study.date + c.study.time)))
    return out


def _negated(text: str) -> tuple[int, ...]:
    """A sort key that orders strings backwards (the most recent date first)."""
    return tuple(-ord(ch) for ch in text)


def load_registration(
    library: Library, prior_uid: str, current_uid: str, method: str
) -> Registration | None:
    """The registration the library keeps for this pair and method, if still valid."""
    stored = library.registration(prior_uid, current_uid, method)
    if stored is None:
        return None
    details = json.loads(stored.details)
    return Registration(
        matrix=np.asarray(stored.matrix, dtype=np.float64),
        method=stored.method,
        metric=stored.metric,
        quality=stored.quality,
        overlap=stored.overlap,
        start=str(details.get("start", "")),
        seconds=float(details.get("seconds", 0.0)),
        iterations=int(details.get("iterations", 0)),
        notes=tuple(str(n) for n in details.get("notes", ())),
    )


def save_registration(
    library: Library, prior_uid: str, current_uid: str, registration: Registration
) -> None:
    """Keep ``registration`` in the library so the pair is registered once."""
    details = {
        "start": registration.start,
        "seconds": registration.seconds,
        "iterations": registration.iterations,
        "notes": list(registration.notes),
    }
    library.store_registration(
        prior_uid,
        current_uid,
        registration.method,
        registration.matrix.tolist(),
        metric=registration.metric,
        quality=registration.quality,
        overlap=registration.overlap,
        details=details,
    )
