"""Persons and their imaging history for the page: ``GET /api/persons`` and the merge, split
and reject requests (``POST /api/persons/merge|split|reject``).

A person is the patient rows (one per hospital's patient ID) the user confirmed are one human
being (docs/library.md, "One person, many hospitals"); the library proposes merges, the user
decides. A merge is an index-level link, undone by a split; no stored file changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ownscan.core.serve._service import BadRequest, format_date, format_name

if TYPE_CHECKING:
    from ownscan.core.library import Library

__all__ = ["merge_request", "persons_json"]


def persons_json(lib: Library) -> dict[str, Any]:
    """Every person with their patients and timeline, and the merges the library proposes.

    Returns
    -------
    dict
        ``{"persons": [{"key", "name", "names", "birth_date", "sex", "linked",
        "institutions", "first_date", "last_date", "patients": [{"key", "patient_id",
        "name"}], "timeline": [{"study_uid", "date", "time", "description", "modalities",
        "body_parts", "institutions", "series", "images", "reports", "marked", "patient_key",
        "patient_id"}]}], "proposals": [{"patient_keys": [a, b], "reason"}]}``; names as
        people write them, dates ``YYYY-MM-DD``, the timeline oldest first.
    """
    out = []
    for person in lib.persons():
        first = person.patients[0]
        out.append(
            {
                "key": person.key,
                "name": format_name(first.name),
                "names": [format_name(n) for n in person.names],
                "birth_date": format_date(first.birth_date),
                "sex": first.sex,
                "linked": person.linked,
                "institutions": list(person.institutions),
                "first_date": format_date(person.first_date),
                "last_date": format_date(person.last_date),
                "patients": [
                    {"key": p.key, "patient_id": p.patient_id, "name": format_name(p.name)}
                    for p in person.patients
                ],
                "timeline": [
                    {
                        "study_uid": t.study_uid,
                        "date": format_date(t.date),
                        "time": t.time,
                        "description": t.description,
                        "modalities": list(t.modalities),
                        "body_parts": list(t.body_parts),
                        "institutions": list(t.institutions),
                        "series": t.series,
                        "images": t.images,
                        "reports": t.reports,
                        "marked": t.marked,
                        "patient_key": t.patient_key,
                        "patient_id": t.patient_id,
                    }
                    for t in lib.timeline(person)
                ],
            }
        )
    proposals = [
        {
            "patient_keys": [p.patient_keys[0][0], p.patient_keys[1][0]],
            "reason": p.reason,
        }
        for p in lib.propose_person_merges()
    ]
    return {"persons": out, "proposals": proposals}


def merge_request(lib: Library, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Do ``action`` (``merge``: ``{"patient_keys": [a, b, ...]}``; ``split``:
    ``{"patient_key": k}``; ``reject``: ``{"patient_keys": [a, b]}``) and answer the persons
    as :func:`persons_json` does.

    Raises
    ------
    BadRequest
        An unknown action or keys that are not whole numbers.
    """
    from ownscan.core.library import LibraryError

    def keys(name: str) -> list[int]:
        raw = body.get(name)
        if not isinstance(raw, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in raw
        ):
            raise BadRequest(f"{name} must be a list of patient keys (whole numbers)")
        return raw

    try:
        if action == "merge":
            found = keys("patient_keys")
            if len(found) < 2:
                raise BadRequest("a merge needs two or more patient keys")
            lib.merge_persons(*found)
        elif action == "reject":
            found = keys("patient_keys")
            if len(found) != 2:
                raise BadRequest("a rejection names two patient keys")
            lib.reject_person_merge(found[0], found[1])
        elif action == "split":
            key = body.get("patient_key")
            if not isinstance(key, int) or isinstance(key, bool):
                raise BadRequest("patient_key must be a whole number")
            lib.split_person(key)
        else:
            raise BadRequest(f"no action {action[:20]!r}; actions are merge, split, reject")
    except LibraryError as exc:
        raise BadRequest(str(exc).splitlines()[0]) from exc
    return persons_json(lib)
