"""The report panel beside the images: what the radiologist wrote, marked and meant.

Top to bottom: the key images strip (Key Object Selection: a thumbnail per flagged image,
a click jumps to it), the radiologist's views (presentation states: "Apply" sets their window
and zoom and draws their annotations), the measurements with image coordinates (a click jumps
to the spot and marks it), then each report: Structured Reports as headings, items and
coded values (the one SR walk, :func:`ownscan.core.reports.report_lines`), PDFs (files from
the CD or DICOM Encapsulated PDF) as rendered pages; last, "Plain words": the glossary terms
the reports use, explained, with their sources. Nothing is sent anywhere.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from ownscan.core.reports import PdfError, PdfPages, read_pdf, render_pdf
from ownscan.core.viewer._jobs import ThreadJob
from ownscan.core.viewer._layout import Rect
from ownscan.core.viewer._marks import StudyDocuments, StudyMarks
from ownscan.core.viewer._radiologist import RadiologistView

if TYPE_CHECKING:
    from ownscan.core.viewer._app import Viewer

__all__ = ["PDF_WIDTH", "ReportPanel"]

log = logging.getLogger(__name__)

PDF_WIDTH = 560  # pixels a PDF page is rendered wide (shown scaled to the panel's width)


def _rendered(kind: str, path: str) -> PdfPages:
    title, data = read_pdf(kind, path)
    return render_pdf(data, PDF_WIDTH, title, path)  # holds PDFium's one lock


class ReportPanel:
    """Draws the report panel of a viewer and keeps its textures (PDF pages, key images)."""

    def __init__(self, viewer: Viewer, radiologist: RadiologistView) -> None:
        self.v = viewer
        self.rv = radiologist
        self._sr: dict[str, list[tuple[int, str, str]] | str] = {}
        self._pdf: dict[str, PdfPages | str] = {}
        self._pdf_jobs: dict[str, ThreadJob[PdfPages]] = {}
        self._terms: tuple[str, list[Any]] | None = None
        self._page_tex: dict[tuple[str, int], Any] = {}
        self._thumbs: dict[str, Any] = {}
        #: where its controls were drawn in the last frame, framebuffer pixels (x0, y0, x1, y1)
        #: by name (``key:N:I``, ``apply:I``, ``measure:I``): for scripts and tests
        self.places: dict[str, tuple[float, float, float, float]] = {}

    def release(self) -> None:
        for tex in [*self._page_tex.values(), *self._thumbs.values()]:
            tex.release()
        self._page_tex.clear()
        self._thumbs.clear()
        self.rv.forget()

    # -- the documents ---------------------------------------------------------------------
    def sr_lines(self, path: str) -> list[tuple[int, str, str]] | str:
        """An SR's lines without title and patient lines, or the reason it cannot be read."""
        found = self._sr.get(path)
        if found is None:
            from ownscan.core.reports import ReportError, read_report, report_lines

            try:
                found = [x for x in report_lines(read_report(path)) if x[1] not in ("meta",)]
            except ReportError as exc:
                found = str(exc)
            self._sr[path] = found
        return found

    def pdf(self, kind: str, path: str) -> PdfPages | str | None:
        """A PDF document's pages, the reason it cannot be shown, or None while PDFium renders
        it on a thread (the window keeps drawing)."""
        found = self._pdf.get(path)
        if found is not None:
            return found
        job = self._pdf_jobs.get(path)
        if job is None:
            self._pdf_jobs[path] = ThreadJob(
                functools.partial(_rendered, kind, path), "ownscan-pdf"
            )
            return None
        if not job.finished:
            return None
        del self._pdf_jobs[path]
        if job.error is not None:
            if not isinstance(job.error, PdfError):
                raise job.error  # a bug: not a message for the user
            log.error("%s", job.error)
            found = str(job.error)
        else:
            assert job.result is not None
            found = job.result
        self._pdf[path] = found
        return found

    def rendering(self) -> bool:
        """True while a PDF is being rendered on a thread."""
        return bool(self._pdf_jobs)

    def wait_for_pdfs(self, timeout: float = 60.0) -> None:
        """Render every PDF of the shown study now (tests, scripts)."""
        docs = self.rv.documents
        for kind, _title, path in docs.reports if docs else ():
            if kind != "sr" and self.pdf(kind, path) is None:
                self._pdf_jobs[path].wait(timeout)
                self.pdf(kind, path)

    def text(self) -> str:
        """Every word the study's reports say (SR lines, PDF text): what the glossary reads."""
        docs = self.rv.documents
        if docs is None:
            return self.v.entry.report or ""
        parts: list[str] = []
        for kind, _title, path in docs.reports:
            if kind == "sr":
                lines = self.sr_lines(path)
                if not isinstance(lines, str):
                    parts += [t for _, _, t in lines]
            else:
                pages = self.pdf(kind, path)
                if isinstance(pages, PdfPages):
                    parts.append(pages.text)
        return "\n".join(parts)

    # -- drawing -------------------------------------------------------------------------------
    def draw(self, rect: Rect, begin_panel: Any) -> None:
        """The panel in ``rect``; ``begin_panel(name, rect)`` opens the imgui window."""
        imgui = self.v.imgui
        if begin_panel("Report", rect):
            docs = self.rv.documents
            marks = self.rv.current()
            if self.rv.reading():
                imgui.text_disabled("reading what the radiologist marked ...")
            if marks is not None:
                self._draw_marks(marks)
            if docs is None:
                imgui.text_wrapped(self.v.entry.report or "")
            else:
                self._draw_documents(docs)
            self._draw_glossary()
        imgui.end()

    def _place(self, name: str) -> None:
        self.places[name] = self.v.win.item_rect()

    def _dim(self, text: str) -> None:
        """Wrapped text in the disabled colour (sources, notes)."""
        imgui = self.v.imgui
        imgui.push_style_color(
            imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled)
        )
        imgui.text_wrapped(text)
        imgui.pop_style_color()

    def _heading(self, text: str) -> None:
        imgui = self.v.imgui
        imgui.push_font(self.v.win.font_bold, 0.0)
        imgui.text(text)
        imgui.pop_font()

    def _draw_marks(self, marks: StudyMarks) -> None:
        imgui = self.v.imgui
        k = self.v.win.font_scale
        made = False
        for n, key in enumerate(marks.marks.key_images):
            self._heading(f"Key images: {key.title}")
            if key.description:
                imgui.text_wrapped(key.description)
            avail = imgui.get_content_region_avail().x
            side = 64.0 * k
            x = 0.0
            for i, ref in enumerate(key.images):
                sop = ref.sop_instance_uid
                imgui.push_id(f"key{n}-{i}")
                if x and x + side + 8 * k <= avail:
                    imgui.same_line()
                elif x:
                    x = 0.0
                tex = self._thumbs.get(sop)
                if tex is None and not made and sop in marks.paths:
                    tex = self._thumbnail(sop, marks.paths[sop])
                    made = True
                placed = sop in marks.planes
                if tex is not None:
                    clicked = imgui.image_button(
                        "##key", imgui.ImTextureRef(tex.glo), imgui.ImVec2(side, side)
                    )
                else:
                    label = f"{i + 1}" if placed else f"{i + 1}\n(not here)"
                    clicked = imgui.button(f"{label}##key", imgui.ImVec2(side, side))
                self._place(f"key:{n}:{i}")
                if clicked:
                    self.rv.jump_to_image(sop)
                if imgui.is_item_hovered():
                    imgui.set_tooltip(
                        f"key image {i + 1} of {len(key.images)}: "
                        + ("click to go there" if placed else "its place is not known")
                    )
                x += side + 8 * k
                imgui.pop_id()
            imgui.separator()
        if marks.presentation_states:
            self._heading("The radiologist's view")
            for i, ps in enumerate(marks.presentation_states):
                imgui.push_id(f"ps{i}")
                on = self.rv.applied is ps
                if imgui.button("Remove" if on else "Apply"):
                    self.rv.apply(None if on else ps)
                self._place(f"apply:{i}")
                imgui.same_line()
                what = ps.label
                if ps.window is not None:
                    what += f"  (W {ps.window[0]:g} L {ps.window[1]:g})"
                imgui.text_wrapped(what)
                imgui.pop_id()
            imgui.separator()
        measured = marks.measurements()
        if measured:
            self._heading("Measurements")
            for i, shape in enumerate(measured):
                label = shape.label or f"mark {i + 1}"
                if imgui.selectable(f"{label}##m{i}", shape is self.rv.picked)[0]:
                    self.rv.jump_to_mark(shape)
                self._place(f"measure:{i}")
                if imgui.is_item_hovered():
                    imgui.set_tooltip("go to this measurement on its image")
            imgui.separator()
        if marks.overlays:
            changed, on = imgui.checkbox(
                f"overlay planes ({len(marks.overlays)} images)", self.rv.show_overlays
            )
            if changed:
                self.rv.show_overlays = on
        if marks.not_placed:
            self._dim(
                f"{len(marks.not_placed)} marked image(s) not in this library or without "
                "a known place: their marks are not drawn"
            )
        for p in marks.problems:
            imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.65, 0.2, 1.0))
            imgui.text_wrapped(p)
            imgui.pop_style_color()

    def _thumbnail(self, sop: str, path: str) -> Any:
        from ownscan.core.viewer._sources import thumbnail_from_files

        img = thumbnail_from_files([path], size=64)
        if img is None:
            return None
        tex = self.v.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
        self._thumbs[sop] = tex
        return tex

    def _draw_documents(self, docs: StudyDocuments) -> None:
        imgui = self.v.imgui
        flags = imgui.TreeNodeFlags_.default_open
        for n, (kind, title, path) in enumerate(docs.reports):
            imgui.push_id(f"doc{n}")
            name = title or ("PDF report" if kind != "sr" else "Report")
            if imgui.collapsing_header(name, flags):
                if kind == "sr":
                    self._draw_sr(path)
                else:
                    self._draw_pdf(kind, path)
            imgui.pop_id()

    def _draw_sr(self, path: str) -> None:
        imgui = self.v.imgui
        lines = self.sr_lines(path)
        if isinstance(lines, str):
            imgui.text_wrapped(lines)
            return
        step = 12.0 * self.v.win.font_scale
        for depth, kind, text in lines:
            if kind == "title":
                continue  # the collapsing header says it
            if depth:
                imgui.indent(step * depth)
            if kind == "heading":
                self._heading(text)
            else:
                imgui.text_wrapped(text)
            if depth:
                imgui.unindent(step * depth)

    def _draw_pdf(self, kind: str, path: str) -> None:
        imgui = self.v.imgui
        pages = self.pdf(kind, path)
        if pages is None:
            imgui.text_disabled("drawing the pages ...")
            return
        if isinstance(pages, str):
            imgui.text_wrapped(pages)
            return
        width = imgui.get_content_region_avail().x
        for i, rgb in enumerate(pages.pages):
            tex = self._page_tex.get((path, i))
            if tex is None:
                tex = self.v.ctx.texture((rgb.shape[1], rgb.shape[0]), 3, rgb.tobytes())
                tex.build_mipmaps()
                import moderngl

                tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                self._page_tex[(path, i)] = tex
            h = width * rgb.shape[0] / rgb.shape[1]
            imgui.image(imgui.ImTextureRef(tex.glo), imgui.ImVec2(width, h))
            imgui.text_disabled(f"page {i + 1} of {pages.total}")
        if pages.total > len(pages.pages):
            self._dim(
                f"{pages.total - len(pages.pages)} more pages: open the file to read them: {path}"
            )

    def _draw_glossary(self) -> None:
        from ownscan.core.reports import explain_terms

        imgui = self.v.imgui
        text = self.text()
        if self._terms is None or self._terms[0] != text:  # once per change, not per frame
            self._terms = (text, explain_terms(text))
        terms = self._terms[1]
        if not terms:
            return
        imgui.separator()
        self._heading("Plain words")
        self._dim("what words of the report mean (built in; nothing is sent anywhere)")
        for entry, written in terms:
            shown = (
                written
                if written.casefold() == entry.term.casefold()
                else f"{written} ({entry.term})"
            )
            self._heading(shown)
            imgui.text_wrapped(entry.text)
            for s in entry.sources:
                self._dim(f"Source: {s.name}, {s.url}")
