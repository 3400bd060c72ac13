// The library grouped by person (docs/SERVE_PAGE.md, "Persons and history"): one card per
// person (the patient records of several hospitals the user confirmed are one human being),
// with their timeline: every study from every hospital by date, with modality, body part,
// hospital, and whether a report or the radiologist's marks are kept; under each study its
// series and documents from /api/library. The merges the library proposes (same name and birth
// date) are asked about; a merged person can be separated again (index links only: no stored
// file changes). All text from files goes in as text (text.js).

import { escapeControls, textEl } from "./text.js";

function sexWord(s) {
  return { F: "female", M: "male", O: "other" }[s] || "";
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "person-action";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// list: the element to fill; library: /api/library; persons: /api/persons; ui: {api,
// seriesCard, stackCards, documentLink, refresh} from app.js.
export function renderPersons(list, library, persons, ui) {
  const studies = new Map();
  for (const p of library.patients) for (const s of p.studies) studies.set(s.study_uid, s);
  const byPatient = new Map();
  for (const person of persons.persons) for (const pt of person.patients) byPatient.set(pt.key, person);

  async function act(action, body) {
    try {
      await ui.api.post(`/api/persons/${action}`, body);
    } catch (e) {
      list.prepend(textEl("p", "error", `Could not change the persons: ${e.message}`));
      return;
    }
    await ui.refresh();
  }

  for (const person of persons.persons) {
    const card = document.createElement("article");
    card.className = "patient person";
    card.dataset.person = String(person.key);
    const head = document.createElement("header");
    head.append(textEl("h3", "", person.name || "(no name)"));
    const others = person.names.filter((n) => n !== person.name);
    const facts = [
      person.birth_date && `born ${person.birth_date}`,
      sexWord(person.sex),
      others.length && `also written ${others.join(", ")}`,
    ].filter(Boolean);
    if (facts.length) head.append(textEl("p", "meta", facts.join(" · ")));
    const ids = person.patients.map((p) => `ID ${p.patient_id || "(none)"}`).join(", ");
    const places = person.institutions.length ? ` · ${person.institutions.join(", ")}` : "";
    head.append(textEl("p", "meta ids", `${ids}${places}`));
    if (person.linked) {
      const row = document.createElement("p");
      row.className = "meta linked";
      row.append(textEl("span", "", "Records of several hospitals joined. "));
      for (const p of person.patients) row.append(button(`Separate ${escapeControls(p.patient_id || "(no ID)")}`, () => act("split", { patient_key: p.key })));
      head.append(row);
    }
    for (const prop of persons.proposals) {
      const [a, b] = prop.patient_keys;
      const mine = person.patients.some((p) => p.key === a);
      const other = byPatient.get(b);
      if (!mine || !other) continue;
      const ask = document.createElement("div");
      ask.className = "proposal";
      ask.append(textEl("span", "", `${other.name || "(no name)"} (ID ${other.patients.map((p) => p.patient_id).join(", ")}${other.institutions.length ? `, ${other.institutions.join(", ")}` : ""}) may be the same person: ${prop.reason}. `));
      ask.append(button("Same person", () => act("merge", { patient_keys: [a, b] })), button("Not the same", () => act("reject", { patient_keys: [a, b] })));
      head.append(ask);
    }
    card.append(head);

    const timeline = document.createElement("ol");
    timeline.className = "timeline";
    for (const t of person.timeline) {
      const li = document.createElement("li");
      li.className = "study timeline-entry";
      li.dataset.study = t.study_uid;
      const what = [t.modalities.join(", "), t.body_parts.map((b) => b.toLowerCase()).join(", "), t.institutions.join(", ")].filter(Boolean);
      li.append(textEl("h4", "", [t.date || "(no date)", t.description || "Study"].join(" — ")));
      const line = textEl("p", "meta", what.join(" · "));
      if (t.reports) line.append(textEl("span", "badge report", t.reports === 1 ? "report" : `${t.reports} reports`));
      if (t.marked) line.append(textEl("span", "badge marked", "marked by the radiologist"));
      li.append(line);
      const s = studies.get(t.study_uid);
      if (s) {
        const grid = document.createElement("div");
        grid.className = "series-grid";
        for (const se of s.series) grid.append(...ui.stackCards(se)); // a series of several stacks: a card each
        li.append(grid);
        if (s.documents && s.documents.length) {
          const docs = document.createElement("div");
          docs.className = "documents";
          for (const d of s.documents) docs.append(ui.documentLink(d));
          li.append(docs);
        }
      }
      timeline.append(li);
    }
    card.append(timeline);
    list.append(card);
  }
}
