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
import numpy.typing as npt

from ownscan.core._stacks import split_id, stack_id
from ownscan.core.compare._register import Registration

if TYPE_CHECKING:
    from ownscan.core.library import Library, Series, StackInfo, Study
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
    """A proposed prior series, with why it was proposed.

    ``stack``: for a prior of several stacks (angled lumbar stacks, a three-plane scout, two
    reconstructions under one UID), the one comparable with the current (the nearest slice
    direction), which :attr:`uid` names (``UID~N``); None for a one-stack prior."""

    series: Series
    study: Study
    score: float
    reasons: tuple[str, ...]
    stack: StackInfo | None = None

    @property
    def uid(self) -> str:
        """The prior's name to load and compare: ``UID``, or ``UID~N`` for one stack."""
        if self.stack is None:
            return self.series.series_uid
        return stack_id(self.series.series_uid, self.stack.number)


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
    return _orientation_of(np.cross(iop[:3], iop[3:]))


def _orientation_of(normal: npt.ArrayLike) -> str:
    """``axial``, ``coronal``, ``sagittal`` or ``oblique`` from a slice normal."""
    normal = np.asarray(normal, dtype=np.float64)
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
        The current series (a unique start of the UID is enough), or one stack of a series
        of several (``UID~N``; the plain UID of such a series is its stack 1, as shown).
        A prior of several stacks is proposed by its stack nearest the current's slice
        direction (:attr:`PriorCandidate.uid`), and the reasons say which.
    """
    series_uid, number = split_id(index.resolve_stack(series_uid))
    studies = {st.study_uid: st for st in index.studies()}
    patients = {p.key: p for p in index.patients()}
    all_series = index.series()
    current = next(s for s in all_series if s.series_uid == series_uid)
    cur_study = studies[current.study_uid]
    cur_patient = patients[cur_study.patient_key]
    cur_stack = current.stacks[(number or 1) - 1] if current.stacks else None
    if cur_stack is not None:  # recorded at import: the shown stack's own direction
        cur_orientation = _orientation_of(cur_stack.normal)
    else:
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
        stack = None
        if se.stacks:
            stack = _comparable(se.stacks, cur_stack)
            orientation = _orientation_of(stack.normal)
            if len(se.stacks) > 1:
                reasons.append(_which(stack, cur_stack))
            else:
                stack = None  # a one-stack prior is named by its plain UID
        else:
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
        out.append(PriorCandidate(se, st, round(score, 3), tuple(reasons), stack))
    # best match first; among equals the most recent study first
    out.sort(key=lambda c: (-c.score, _negated(c.study.date + c.study.time)))
    return out


def _comparable(stacks: tuple[StackInfo, ...], current: StackInfo | None) -> StackInfo:
    """The stack of a prior to compare with the current stack: the nearest slice direction
    (the same disc's angle of a lumbar spine, the same plane of a three-plane scout), then the
    same image size, then the nearest image count; the first without a current stack."""
    if current is None:
        return stacks[0]
    cur = np.asarray(current.normal, dtype=np.float64)

    def apart(s: StackInfo) -> tuple[float, bool, int]:
        # slice directions of opposite sign are the same plane (a reversed slice order)
        cos = abs(float(np.dot(cur, np.asarray(s.normal, dtype=np.float64))))
        degrees = round(float(np.degrees(np.arccos(min(1.0, cos)))), 1)
        same_size = (s.rows, s.columns) == (current.rows, current.columns)
        return degrees, not same_size, abs(s.images - current.images)

    return min(stacks, key=apart)


def _which(stack: StackInfo, current: StackInfo | None) -> str:
    """Why this stack of a prior of several: its label and how far its slices turn from the
    current's."""
    if current is None:
        return f"{stack.label} (the first: the current's slice direction is not known)"
    cos = abs(float(np.dot(np.asarray(stack.normal), np.asarray(current.normal))))
    degrees = float(np.degrees(np.arccos(min(1.0, cos))))
    return f"{stack.label}: the stack nearest the current's slice direction ({degrees:.0f} degrees)"


def _negated(text: str) -> tuple[int, ...]:
    """A sort key that orders strings backwards (the most recent date first)."""
    return tuple(-ord(ch) for ch in text)


def load_registration(
    library: Library, prior_uid: str, current_uid: str, method: str
) -> Registration | None:
    """The registration the library keeps for this pair and method, if still valid. Either
    may name one stack of a series of several (``UID~N``): each pair of stacks has its own."""
    (prior, prior_stack), (current, current_stack) = _stack_of(prior_uid), _stack_of(current_uid)
    stored = library.registration(
        prior, current, method, prior_stack=prior_stack, current_stack=current_stack
    )
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
    """Keep ``registration`` in the library so the pair (of stacks, ``UID~N``) is registered
    once."""
    details = {
        "start": registration.start,
        "seconds": registration.seconds,
        "iterations": registration.iterations,
        "notes": list(registration.notes),
    }
    (prior, prior_stack), (current, current_stack) = _stack_of(prior_uid), _stack_of(current_uid)
    library.store_registration(
        prior,
        current,
        registration.method,
        registration.matrix.tolist(),
        metric=registration.metric,
        quality=registration.quality,
        overlap=registration.overlap,
        details=details,
        prior_stack=prior_stack,
        current_stack=current_stack,
    )


def _stack_of(name: str) -> tuple[str, int]:
    """``UID~N`` -> ``(UID, N)``; a plain UID is its stack 1 (what it shows)."""
    uid, number = split_id(name)
    return uid, number or 1
