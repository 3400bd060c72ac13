"""Reports and what the radiologist marked, read from DICOM documents.

Public API::

    from ownscan.core.reports import read_report, report_text, read_marks, explain_terms

    report = read_report("SR.dcm")            # StructuredReport (content tree of ReportItem)
    print(report_text(report))                 # headings, measurements (value unit), codes
    report_lines(report)                       # [(depth, kind, text)]: the one walk every
                                               # renderer (terminal, HTML, PDF, server, viewer) uses
    report_html(report); write_report_pdf(report, "report.pdf")
    marks = read_marks("GSPS.dcm")             # Marks: key images, windows, zoom, annotations
    explain_terms(text)                        # glossary terms found in a text
    read_overlays("IM0001")                    # [OverlayPlane]: 60xx overlay bitmaps of an image
    title, data = read_pdf("dicom-pdf", path)  # a kept PDF's bytes; render_pdf(data, width),
    render_pdf_page(data, 0, 800)              # one page as RGB; pdf_page_sizes(data) (PDFium)

docs/REPORTS.md describes the records and what is read from each document.
"""

from __future__ import annotations

from ownscan.core.reports._documents import DocumentKind, classify, encapsulated_pdf
from ownscan.core.reports._glossary import GlossaryEntry, Source, explain_terms, glossary
from ownscan.core.reports._marks import (
    Annotation,
    DisplayedArea,
    KeyImages,
    Marks,
    WindowSetting,
    read_marks,
)
from ownscan.core.reports._overlays import OverlayPlane, read_overlays
from ownscan.core.reports._pdf import (
    MAX_PAGES,
    PdfError,
    PdfPages,
    pdf_page_sizes,
    pdf_text,
    read_pdf,
    render_pdf,
    render_pdf_page,
)
from ownscan.core.reports._render import (
    report_html,
    report_text,
    write_report_pdf,
)
from ownscan.core.reports._sr import (
    Code,
    ImageRef,
    ReportError,
    ReportItem,
    StructuredReport,
    read_report,
    report_lines,
)

__all__ = [
    "MAX_PAGES",
    "Annotation",
    "Code",
    "DisplayedArea",
    "DocumentKind",
    "GlossaryEntry",
    "ImageRef",
    "KeyImages",
    "Marks",
    "OverlayPlane",
    "PdfError",
    "PdfPages",
    "ReportError",
    "ReportItem",
    "Source",
    "StructuredReport",
    "WindowSetting",
    "classify",
    "encapsulated_pdf",
    "explain_terms",
    "glossary",
    "pdf_page_sizes",
    "pdf_text",
    "read_marks",
    "read_overlays",
    "read_pdf",
    "read_report",
    "render_pdf",
    "render_pdf_page",
    "report_html",
    "report_lines",
    "report_text",
    "write_report_pdf",
]
