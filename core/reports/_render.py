"""A report's lines (:func:`~ownscan.core.reports.report_lines`) for a terminal, as HTML and
as PDF (fpdf2, pure Python)."""

from __future__ import annotations

import os
from pathlib import Path

from ownscan.core.reports._sr import StructuredReport, report_lines
from ownscan.core.text import escape_controls, escape_html

__all__ = ["report_html", "report_text", "write_report_pdf"]

# DejaVu Sans covers Latin, Greek, Cyrillic and most symbols a report holds (µ, ±, ≥, °);
# Debian's fonts-dejavu-core installs it here.
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


def report_text(report: StructuredReport, indent: int = 2) -> str:
    """The report for a terminal: title underlined, headings on their own lines, every value
    with its name, nested by depth; control characters escaped."""
    out: list[str] = []
    for depth, kind, text in report_lines(report):
        safe = escape_controls(text)
        pad = " " * (indent * depth)
        if kind == "title":
            out += [safe, "=" * len(safe)]
        elif kind == "meta":
            out.append(safe)
        elif kind == "heading":
            out += ["", pad + safe, pad + "-" * len(safe)]
        elif kind == "more":
            out.append(pad + "  " + safe)
        else:
            out.append(pad + safe)
    return "\n".join(out) + "\n"


def report_html(report: StructuredReport, extra: str = "") -> str:
    """A self-contained HTML page of the report (no scripts, no outside resources); text as
    text, control characters escaped.

    ``extra`` is HTML appended to the body (already escaped by the caller: the glossary and
    the marks lists of ``ownscan report``).
    """
    body: list[str] = []
    open_meta = False
    for depth, kind, text in report_lines(report):
        t = escape_html(text)
        if kind != "meta" and open_meta:
            body.append("</ul>")
            open_meta = False
        if kind == "title":
            body.append(f"<h1>{t}</h1>")
        elif kind == "meta":
            if not open_meta:
                body.append('<ul class="meta">')
                open_meta = True
            body.append(f"<li>{t}</li>")
        elif kind == "heading":
            level = min(2 + depth, 6)
            body.append(f'<h{level} style="margin-left:{depth * 1.5}em">{t}</h{level}>')
        elif kind == "more":
            body.append(f'<p class="more" style="margin-left:{depth * 1.5 + 1}em">{t}</p>')
        else:
            name, sep, value = text.partition(": ")
            shown = f"<b>{escape_html(name)}:</b> {escape_html(value)}" if sep else t
            body.append(f'<p style="margin-left:{depth * 1.5}em">{shown}</p>')
    if open_meta:
        body.append("</ul>")
    title = escape_html(report.title)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.4}"
        "p{margin:.2em 0}.meta{color:#444}</style></head>\n<body>\n"
        + "\n".join(body)
        + ("\n" + extra if extra else "")
        + "\n</body></html>\n"
    )


def _font() -> Path | None:
    for folder in _FONT_DIRS:
        path = Path(folder) / "DejaVuSans.ttf"
        if path.is_file() and (path.parent / "DejaVuSans-Bold.ttf").is_file():
            return path
    return None


def write_report_pdf(
    report: StructuredReport,
    path: str | os.PathLike[str],
    extra_lines: list[str] | None = None,
) -> Path:
    """Write the report as a PDF (A4) with fpdf2; return the path.

    With DejaVu Sans installed every character is kept; without it the PDF core font
    (Latin-1) is used and other characters are written as ``?`` with a note at the end saying
    so, rather than failing.

    Raises
    ------
    ImportError
        fpdf2 is not installed (``pip install fpdf2``).
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    font = _font()
    lossy = False
    if font is not None:
        pdf.add_font("DejaVu", "", str(font))
        pdf.add_font("DejaVu", "B", str(font.parent / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"
    else:
        family = "Helvetica"

    def clean(text: str) -> str:
        nonlocal lossy
        text = "".join(c if c.isprintable() else " " for c in text)
        if font is None:
            encoded = text.encode("latin-1", "replace").decode("latin-1")
            lossy = lossy or encoded != text
            return encoded
        return text

    width = pdf.w - pdf.l_margin - pdf.r_margin
    for depth, kind, text in report_lines(report):
        indent = 6.0 * depth
        pdf.set_x(pdf.l_margin + indent)
        if kind == "title":
            pdf.set_font(family, "B", 16)
            pdf.multi_cell(width, 8, clean(text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "meta":
            pdf.set_font(family, "", 10)
            pdf.multi_cell(width, 5, clean(text), new_x="LMARGIN", new_y="NEXT")
        elif kind == "heading":
            pdf.ln(3)
            pdf.set_x(pdf.l_margin + indent)
            pdf.set_font(family, "B", 12)
            pdf.multi_cell(width - indent, 6, clean(text), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font(family, "", 11)
            extra_indent = 4.0 if kind == "more" else 0.0
            pdf.set_x(pdf.l_margin + indent + extra_indent)
            pdf.multi_cell(
                width - indent - extra_indent, 5.5, clean(text), new_x="LMARGIN", new_y="NEXT"
            )
    for line in extra_lines or ():
        pdf.set_font(family, "", 10)
        pdf.multi_cell(width, 5, clean(line), new_x="LMARGIN", new_y="NEXT")
    if lossy:
        pdf.ln(4)
        pdf.set_font(family, "", 9)
        pdf.multi_cell(
            width,
            5,
            "Note: characters outside Latin-1 are shown as '?' (install the DejaVu fonts for "
            "all of them); the DICOM file holds the exact text.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    out = Path(path)
    pdf.output(str(out))
    return out
