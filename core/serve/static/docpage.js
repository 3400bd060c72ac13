// A PDF report on its own page, #/document/ID (docs/SERVE_PAGE.md, "A report on its own
// page"): the server draws its pages (pdfpages.js, the report panel's code), so a phone without
// a PDF viewer (Android Chrome downloads a PDF rather than showing it) reads it in the page,
// fit to the width, scrolled and pinch-zoomed as any page. "Download the PDF" (the file, sent
// as an attachment) and "Open in the browser's PDF viewer" stay beside it. A PDF that cannot
// be drawn says so, naming the document, and keeps both links.

import { escapeControls, textEl } from "./text.js";
import { pdfPages } from "./pdfpages.js";

const DOC_ID = /^[0-9a-f]{64}$/; // a document's id is its content's sha256 (SERVE.md)

// The PDF's name as a file: letters, digits, spaces, dots and dashes of its title.
function fileName(title) {
  const base = String(title || "report").replace(/[^\p{L}\p{N} ._-]+/gu, " ").trim().slice(0, 80);
  return `${base || "report"}.pdf`;
}

export async function showDocument(main, api, id) {
  main.replaceChildren();
  const back = document.createElement("a");
  back.className = "back";
  back.href = "#/";
  back.textContent = "← Library";
  const view = document.createElement("section");
  view.className = "doc-view";
  main.append(back, view);
  if (!DOC_ID.test(id)) {
    view.append(textEl("p", "error", "No such report (the address is not a report's)."));
    return;
  }
  const url = `/api/documents/${id}`;
  // the title from the library's list (the damaged PDF's message names it; /pages cannot)
  const lib = await api.json("/api/library").catch(() => null);
  const all = lib ? [...(lib.documents || []), ...lib.patients.flatMap((p) => p.studies.flatMap((s) => s.documents || []))] : [];
  const doc = all.find((d) => d.id === id) || { id, url, title: "Report" };
  const title = doc.title || "Report";
  view.append(textEl("h2", "", title));
  const links = document.createElement("p");
  links.className = "doc-links";
  const download = document.createElement("a");
  download.className = "pdf-download";
  download.href = `${url}?download=1`;
  download.download = fileName(title);
  download.textContent = "Download the PDF";
  const open = document.createElement("a");
  open.className = "pdf-open";
  open.href = url;
  open.target = "_blank";
  open.rel = "noopener";
  open.textContent = "Open in the browser's PDF viewer";
  links.append(download, open);
  view.append(links);
  await pdfPages(view, { ...doc, url }, api, { link: false });
  const failed = view.querySelector(".pdf-error");
  // the server's line says what is wrong; the page says which report it is
  if (failed) failed.textContent = `${escapeControls(title)}: ${failed.textContent}`;
}
