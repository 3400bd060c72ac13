// A PDF report's pages inline in the report panel (docs/SERVE_PAGE.md, "Report and marks"):
// the server draws them with the desktop viewer's code (GET /api/documents/ID/pages for the
// count and sizes, then page/N.png at the panel's width in device pixels, which the server
// rounds up to a multiple of 200 and keeps). "Open the PDF" in a new tab stays. A PDF that
// cannot be drawn is one line (the server's), never a broken picture. docpage.js shows the
// same pages on a page of their own (its links above them: `link: false`).

import { textEl } from "./text.js";

export async function pdfPages(section, doc, api, { link: withLink = true } = {}) {
  const link = document.createElement("a");
  link.href = doc.url;
  link.target = "_blank";
  link.rel = "noopener";
  link.className = "pdf-open";
  link.textContent = "Open the PDF in a new tab";
  const pages = document.createElement("div");
  pages.className = "pdf-pages";
  section.append(pages);
  if (withLink) section.append(link);
  let info;
  try {
    info = await api.json(`${doc.url}/pages`);
  } catch (e) {
    pages.append(textEl("p", "error pdf-error", e.message));
    pages.dataset.pages = "0";
    return;
  }
  const panel = section.closest(".report-panel") || section;
  const cssWidth = Math.max(300, (panel && panel.clientWidth) || 340);
  const width = Math.min(info.max_width || 2000, Math.ceil(cssWidth * (window.devicePixelRatio || 1)));
  info.sizes.forEach(([w, h], i) => {
    const img = document.createElement("img");
    img.className = "pdf-page";
    img.alt = `page ${i + 1} of ${info.pages}`;
    img.style.aspectRatio = `${w} / ${h}`; // the room is kept before the picture comes
    img.decoding = "async";
    img.src = `${doc.url}/page/${i + 1}.png?width=${width}`;
    img.addEventListener("error", () => img.replaceWith(textEl("p", "error pdf-error", `page ${i + 1} could not be drawn`)));
    pages.append(img);
  });
  if (info.pages > info.shown) pages.append(textEl("p", "meta", `The first ${info.shown} of ${info.pages} pages are shown; open the PDF for the rest.`));
  pages.dataset.pages = String(info.shown);
}
