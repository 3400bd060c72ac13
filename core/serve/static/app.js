// The page: the library (patients -> studies -> series, reports), the upload panel and the
// viewer, switched by the address's hash (#/ and #/series/UID) so the back button works.

import { api } from "./api.js";
import { CompareView } from "./compare.js";
import { renderPersons } from "./persons.js";
import { escapeControls } from "./text.js";
import { uploadPanel } from "./upload.js";
import { Viewer, el } from "./viewer.js";
import { attachCine } from "./cine.js";
import { attachMarks } from "./marks.js";
import { attachOverlays } from "./overlays.js";
import { attachParams } from "./params.js";
import { showDocument } from "./docpage.js";

const main = document.querySelector("main");
let viewer = null;

function text(tag, cls, content) {
  const e = el(tag, cls);
  e.textContent = escapeControls(content); // text from files: never HTML, controls escaped
  return e;
}

function sexWord(s) {
  return { F: "female", M: "male", O: "other" }[s] || "";
}

function seriesCard(series) {
  const a = el("a", "series");
  a.href = `#/series/${encodeURIComponent(series.series_uid)}`;
  a.dataset.uid = series.series_uid;
  const img = el("img", "thumb");
  img.loading = "lazy";
  img.alt = "";
  img.src = series.thumbnail;
  img.width = 96;
  img.height = 96;
  // a series the server cannot read has no thumbnail: words, not the browser's broken picture
  img.addEventListener("error", () => img.replaceWith(text("span", "thumb thumb-failed", "no picture")), { once: true });
  const body = el("div", "series-text");
  body.append(
    text("strong", "", series.description || `Series ${series.number ?? ""}`.trim()),
    text("span", "meta", [series.modality, series.body_part, `${series.images} image${series.images === 1 ? "" : "s"}`].filter(Boolean).join(" · ")),
  );
  a.append(img, body);
  return a;
}

// a series of several stacks (core/serve/_stacks.py) is listed stack by stack, each card
// saying which stack of how many it is
function stackCards(series) {
  if (!series.stacks || series.stacks.length < 2) return [seriesCard(series)];
  return series.stacks.map((st) => {
    const card = seriesCard({ ...series, series_uid: st.id, thumbnail: st.thumbnail, images: st.images });
    card.querySelector(".series-text").append(text("span", "stack-label", st.label));
    return card;
  });
}

function documentLink(doc) {
  const a = el("a", `document ${doc.kind}`);
  if (doc.kind.includes("pdf")) {
    a.href = `#/document/${encodeURIComponent(doc.id)}`; // drawn in the page (docpage.js)
  } else {
    a.href = doc.url;
    a.target = "_blank";
    a.rel = "noopener";
  }
  a.textContent = escapeControls(`${doc.title || "Report"} (${doc.kind.includes("pdf") ? "PDF" : "text"})`);
  return a;
}

async function showLibrary() {
  if (viewer) viewer.destroy();
  viewer = null;
  document.body.classList.remove("viewing");
  main.innerHTML = "";
  const lib = el("section", "library");
  lib.append(text("h2", "", "Your scans"));
  const list = el("div", "patients");
  lib.append(list);
  main.append(lib, uploadPanel(() => refresh(list)));
  await refresh(list);
}

async function refresh(list) {
  let data;
  try {
    data = await api.json("/api/library");
  } catch (e) {
    list.replaceChildren(text("p", "error", `Could not read the library: ${e.message}`));
    return;
  }
  list.replaceChildren();
  if (!data.patients.length && !(data.documents || []).length) {
    list.append(text("p", "empty", "The library is empty. Add scans below."));
    return;
  }
  // grouped by person, each with their timeline (persons.js); patients as below without it
  const persons = await api.json("/api/persons").catch(() => null);
  if (persons) renderPersons(list, data, persons, { api, seriesCard, stackCards, documentLink, refresh: () => refresh(list) });
  for (const p of persons ? [] : data.patients) {
    const card = el("article", "patient");
    const head = el("header");
    head.append(text("h3", "", p.name || "Unnamed patient"));
    const facts = [p.birth_date && `born ${p.birth_date}`, sexWord(p.sex), p.patient_id && `ID ${p.patient_id}`].filter(Boolean).join(" · ");
    if (facts) head.append(text("p", "meta", facts));
    card.append(head);
    for (const s of p.studies) {
      const study = el("section", "study");
      study.append(text("h4", "", [s.date, s.description || "Study"].filter(Boolean).join(" — ")));
      if (s.modalities && s.modalities.length) study.append(text("p", "meta", s.modalities.join(", ")));
      const grid = el("div", "series-grid");
      for (const se of s.series) grid.append(...stackCards(se));
      study.append(grid);
      if (s.documents && s.documents.length) {
        const docs = el("div", "documents");
        for (const d of s.documents) docs.append(documentLink(d));
        study.append(docs);
      }
      card.append(study);
    }
    list.append(card);
  }
  if (data.documents && data.documents.length) {
    // reports kept without a study to file them under
    const card = el("article", "patient");
    card.append(text("h3", "", "Other documents"));
    const docs = el("div", "documents");
    for (const d of data.documents) docs.append(documentLink(d));
    card.append(docs);
    list.append(card);
  }
}

// The back link as the toolbar's first control, once the view has built its toolbar: on its
// own row it took 44 px of a phone's height (a turned phone's 4D picture was 188 px of 390,
// 232 with it in the row). style.css keeps it at the row's left while the row scrolls.
function backInToolbar(back, root) {
  const bar = root.querySelector(".toolbar");
  if (bar) bar.prepend(back);
}

async function showSeries(uid) {
  if (viewer) viewer.destroy();
  document.body.classList.add("viewing");
  main.innerHTML = "";
  const back = el("a", "back");
  back.href = "#/";
  back.textContent = "← Library";
  const root = el("div");
  main.append(back, root);
  viewer = new Viewer(root, api, uid);
  // the back link; 4D and cine; report, key images, marks; the 3D mode's parameters
  viewer.extensions = [(v) => backInToolbar(back, v.root), attachCine, attachOverlays, attachMarks, attachParams];
  window.ownscanViewer = viewer; // for the console (and the browser tests)
  try {
    await viewer.open();
  } catch (e) {
    root.replaceChildren(text("p", "error", `Could not open this series: ${e.message}`));
    main.prepend(back); // the toolbar it stood in is gone: the way back stays
  }
}

async function showCompare(current, prior, force) {
  if (viewer) viewer.destroy();
  document.body.classList.add("viewing");
  main.innerHTML = "";
  const back = el("a", "back");
  back.href = `#/series/${encodeURIComponent(current)}`;
  back.textContent = "← Series";
  const root = el("div");
  main.append(back, root);
  viewer = new CompareView(root, api, current, prior, force);
  viewer.onToolbar = () => backInToolbar(back, root);
  window.ownscanCompare = viewer; // for the console (and the browser tests)
  try {
    await viewer.open();
  } catch (e) {
    root.replaceChildren(text("p", "error", `Could not compare: ${e.message}`));
    main.prepend(back);
  }
}

function showReport(id) {
  if (viewer) viewer.destroy();
  viewer = null;
  document.body.classList.remove("viewing");
  return showDocument(main, api, id);
}

function route() {
  const c = location.hash.match(/^#\/compare\/([^/?]+)\/([^/?]+)(\?force=1)?/);
  if (c) return showCompare(decodeURIComponent(c[1]), decodeURIComponent(c[2]), !!c[3]);
  const d = location.hash.match(/^#\/document\/([^/?]+)/);
  if (d) return showReport(decodeURIComponent(d[1]));
  const m = location.hash.match(/^#\/series\/([^/?]+)/);
  if (m) showSeries(decodeURIComponent(m[1]));
  else showLibrary();
}

window.addEventListener("hashchange", route);
route();
