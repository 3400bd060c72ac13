"""People in the viewer's browser: one person, many hospitals.

The series browser has two lists: "Series" (what is open) and, when the viewer shows a
library, "People": every person (:meth:`Library.persons`: patients the user merged, each
other patient on its own), with the patient IDs and hospitals, and their timeline
(:meth:`Library.timeline`: every study from every hospital by date, with modality, body part,
hospital and whether a report is kept); a click on a study opens its series. Above them, the
merges the library proposes (same name ignoring order, case, accents and DICOM ``^``
formatting, same birth date), each with "Same person" and "Not the same"; a merged person
has "Undo" per patient. Merging and splitting only change index-level links; no stored file
is rewritten (:meth:`Library.merge_persons`, :meth:`Library.split_person`,
:meth:`Library.reject_person_merge`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ownscan.core.names import display_name

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["PeoplePanel", "timeline_line"]

log = logging.getLogger(__name__)


def _date(text: str) -> str:
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text or "(no date)"


def _what(entry: Any) -> list[str]:
    """Date, modalities and body parts of a study of a timeline."""
    parts = [_date(entry.date), "/".join(entry.modalities) or "?"]
    body = "/".join(b.title() for b in entry.body_parts)
    return [*parts, body] if body else parts


def timeline_line(entry: Any) -> str:
    """One study of a timeline in a line: date, modalities, body parts, hospital, report."""
    parts = [*_what(entry), ", ".join(entry.institutions) or "(hospital not named)"]
    if entry.reports:
        parts.append("report kept")
    return "  ".join(p for p in parts if p)


class PeoplePanel:
    """The "People" list of the browser, for the viewer's library (None: no list).

    Attributes
    ----------
    showing
        True while the browser shows people instead of series.
    """

    def __init__(self, viewer: Viewer, library: Any) -> None:
        self.v = viewer
        self.library = library
        self.showing = False
        self._persons: list[Any] | None = None
        self._proposals: list[Any] = []
        self._timelines: dict[int, list[Any]] = {}
        #: where its controls were drawn in the last frame, framebuffer pixels (x0, y0, x1, y1)
        #: by name (``people``, ``same:N``, ``apart:N``, ``undo:KEY``, ``study:UID``)
        self.places: dict[str, tuple[float, float, float, float]] = {}

    # -- the library -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read persons and proposals again (after a merge or split)."""
        self._persons = self.library.persons()
        self._proposals = self.library.propose_person_merges()
        self._timelines.clear()

    def persons(self) -> list[Any]:
        if self._persons is None:
            self.refresh()
        assert self._persons is not None
        return self._persons

    def proposals(self) -> list[Any]:
        self.persons()
        return self._proposals

    def timeline(self, person: Any) -> list[Any]:
        found = self._timelines.get(person.key)
        if found is None:
            found = self._timelines[person.key] = self.library.timeline(person)
        return found

    def _act(self, what: str, action: Any) -> None:
        from ownscan.core.library import LibraryError

        try:
            action()
        except LibraryError as exc:
            self.v._flash(f"{what}: {exc}", seconds=10.0)
            return
        self.refresh()
        self.v._flash(what)

    def merge(self, proposal: Any) -> None:
        """Confirm a proposal: the two persons are one (an index-level link)."""
        a, b = proposal.patient_keys[0][0], proposal.patient_keys[1][0]
        self._act("merged: one person", lambda: self.library.merge_persons(a, b))

    def reject(self, proposal: Any) -> None:
        """Reject a proposal: not the same person (never proposed again)."""
        a, b = proposal.patient_keys[0][0], proposal.patient_keys[1][0]
        self._act("kept apart", lambda: self.library.reject_person_merge(a, b))

    def split(self, patient_key: int) -> None:
        """Undo a merge for one patient."""
        self._act("merge undone", lambda: self.library.split_person(patient_key))

    def open_study(self, study_uid: str) -> bool:
        """Show the study's first image series, adding its series to the browser when they are
        not open yet. False when it has none."""
        from ownscan.core.viewer._sources import entries_from_library

        entries = self.v.entries
        for i, e in enumerate(entries):
            if e.info.study_instance_uid == study_uid:
                self.v.request_series(i)
                return True
        uids = [s.series_uid for s in self.library.series(study_uid) if not s.is_document]
        new = entries_from_library(self.library, uids)
        if not new:
            self.v._flash("that study has no images to show", seconds=6.0)
            return False
        entries.extend(new)
        self.v.request_series(len(entries) - len(new))
        return True

    # -- drawing -------------------------------------------------------------------------------
    def draw_switch(self) -> bool:
        """The Series/People switch at the top of the browser; when "People" is chosen the
        list of people is drawn too and True returned (the series list is not)."""
        imgui = self.v.imgui
        if imgui.radio_button("Series", not self.showing):
            self.showing = False
        imgui.same_line()
        if imgui.radio_button("People", self.showing):
            self.showing = True
        self.places["people"] = self.v.win.item_rect()
        imgui.separator()
        if self.showing:
            self._draw_people()
        return self.showing

    def _bold(self, text: str) -> None:
        imgui = self.v.imgui
        imgui.push_font(self.v.win.font_bold, 0.0)
        imgui.text_wrapped(text)
        imgui.pop_font()

    def _draw_people(self) -> None:
        imgui = self.v.imgui
        names = {p.key: p for p in self.persons()}
        for n, prop in enumerate(self.proposals()):
            imgui.push_id(f"proposal{n}")
            a, b = names.get(prop.person_keys[0]), names.get(prop.person_keys[1])
            self._bold("Same person?")
            for who in (a, b):
                if who is not None:
                    imgui.text_wrapped(self._who(who))
            imgui.text_disabled(prop.reason)
            if imgui.button("Same person"):
                self.merge(prop)
            self.places[f"same:{n}"] = self.v.win.item_rect()
            imgui.same_line()
            if imgui.button("Not the same"):
                self.reject(prop)
            self.places[f"apart:{n}"] = self.v.win.item_rect()
            imgui.separator()
            imgui.pop_id()
        flags = imgui.TreeNodeFlags_.default_open
        for person in self.persons():
            imgui.push_id(f"person{person.key}")
            first = person.patients[0]
            title = display_name(first.name) or "(no name)"
            if first.birth_date:
                title += f"  b. {_date(first.birth_date)}"
            if imgui.collapsing_header(f"{title}###p", flags):
                for patient in person.patients:
                    imgui.text_disabled(f"ID {patient.patient_id or '(none)'}")
                    if person.linked:
                        imgui.same_line()
                        if imgui.small_button(f"Undo##split{patient.key}"):
                            self.split(patient.key)
                        self.places[f"undo:{patient.key}"] = self.v.win.item_rect()
                        if imgui.is_item_hovered():
                            imgui.set_tooltip("take this patient ID out of the person")
                for entry in self.timeline(person):
                    # the date, what and where first; the hospital and report on a line of
                    # their own (the browser is narrow)
                    head = "  ".join(_what(entry))
                    if imgui.selectable(f"{head}##{entry.study_uid}", False)[0]:
                        self.open_study(entry.study_uid)
                    self.places[f"study:{entry.study_uid}"] = self.v.win.item_rect()
                    if imgui.is_item_hovered():
                        imgui.set_tooltip("open this study")
                    rest = [", ".join(entry.institutions) or "(hospital not named)"]
                    if entry.reports:
                        rest.append("report kept")
                    if entry.description:
                        rest.append(entry.description)
                    imgui.indent()
                    imgui.text_disabled(" / ".join(rest))
                    imgui.unindent()
            imgui.pop_id()

    def _who(self, person: Any) -> str:
        p = person.patients[0]
        ids = ", ".join(person.patient_ids)
        where = ", ".join(person.institutions) or "(hospital not named)"
        return f"{display_name(p.name)} (ID {ids}) at {where}, {person.studies} stud" + (
            "y" if person.studies == 1 else "ies"
        )
