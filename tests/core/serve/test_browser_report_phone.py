"""A PDF report opened from the library on a phone (390 x 844, touch) in Debian's Chromium:
shown in the page as the server-drawn pages (docpage.js), since a phone's browser without a
PDF viewer downloads the file instead. The library is reportpagegen.py's (a DICOM
Encapsulated PDF whose first page is red, a damaged one) with a CD's ``REPORT`` folder
holding a plain PDF file. Checked: the pages drawn the screen's width, not blank, the red
title where the report has it; "Download the PDF" gives the PDF's bytes as an attachment;
the damaged one a message naming it, with its download. ``OWNSCAN_SHOTS=DIR`` keeps the
screenshots."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import save_shot, sign_in, watch_errors
from PIL import Image
from reportpagegen import RED, import_sources, make_sources, red_pdf
from serve_process import ServeProcess


@pytest.fixture(scope="module")
def report_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, dict]]:
    root = tmp_path_factory.mktemp("phone-report")
    src = make_sources(root)
    # a hospital CD's REPORT folder: the report as a plain PDF file beside the images
    plain = red_pdf(1)
    (src / "stanne" / "REPORT").mkdir()
    (src / "stanne" / "REPORT" / "discharge.pdf").write_bytes(plain)
    library = import_sources(src, root / "library")
    import pydicom

    # the PDFs as their DICOM files keep them; the good one's pad (DICOM's even length) is not
    # the PDF's: it ends with %%EOF
    wrapped = pydicom.dcmread(src / "stanne" / "docs" / "pdf.dcm").EncapsulatedDocument
    damaged = pydicom.dcmread(src / "stanne" / "docs" / "bad.dcm").EncapsulatedDocument
    s = ServeProcess.start(library)
    yield s, {"plain": plain, "wrapped": bytes(wrapped), "damaged": bytes(damaged)}
    assert s.stop() == 0, s.log


@pytest.fixture
def phone_page(browser: Any) -> Iterator[tuple[Any, list]]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
        accept_downloads=True,
    )
    page = ctx.new_page()
    errors = watch_errors(page, expected="status of 422")  # the damaged PDF's /pages
    yield page, errors
    ctx.close()
    assert not errors, errors


def _open(page: Any, selector: str, has_text: str | None = None) -> None:
    """Back to the library, then tap the report's link there."""
    page.goto(page.url.split("#")[0] + "#/")
    link = page.locator(selector, has_text=has_text).first
    link.wait_for(timeout=60_000)
    assert link.get_attribute("target") is None  # the page, not a new tab
    link.tap()
    page.wait_for_selector(".doc-view .pdf-pages[data-pages]", timeout=60_000)


def _pages_drawn(page: Any, count: int) -> None:
    assert page.get_attribute(".doc-view .pdf-pages", "data-pages") == str(count)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.doc-view img.pdf-page')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=60_000,
    )


def _red_title(page: Any) -> None:
    """The first page fits the phone's width and shows the red title at its top, on paper."""
    img = page.locator(".doc-view img.pdf-page").first
    box = img.bounding_box()
    assert box is not None and 300 <= box["width"] <= 390 and box["height"] > box["width"], box
    shown = np.asarray(Image.open(io.BytesIO(img.screenshot())).convert("RGB")).astype(int)
    assert shown.std() > 5  # not one flat colour
    red = np.all(np.abs(shown - RED) < 60, axis=-1)
    white = np.all(shown > 245, axis=-1).mean()
    assert red.sum() > 200 and white > 0.8, (red.sum(), white)
    rows = np.nonzero(red.any(axis=1))[0]
    # "IMPRESSION / Hypodense lesion", 40 pt from the top margin: the page's top fifth
    assert rows.max() < 0.2 * shown.shape[0], (rows.min(), rows.max(), shown.shape)


def _download(page: Any, server: ServeProcess, want: bytes, tmp_path: Path) -> None:
    """ "Download the PDF": an attachment of exactly the report's bytes, saved by the browser."""
    link = page.locator(".doc-view a.pdf-download")
    href = str(link.get_attribute("href"))
    resp = page.context.request.get(server.base + href)
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"].startswith("attachment")
    assert resp.body() == want
    with page.expect_download() as info:
        link.tap()
    saved = tmp_path / "saved.pdf"
    info.value.save_as(saved)
    assert info.value.suggested_filename.endswith(".pdf")
    assert saved.read_bytes() == want


def test_a_phone_reads_the_pdf_report_in_the_page(report_server, phone_page, tmp_path):
    server, files = report_server
    page, _errors = phone_page
    sign_in(page, server)
    # the DICOM Encapsulated PDF: two pages drawn, the red title on the first
    _open(page, "a.document.dicom-pdf", has_text="Radiology report")
    assert "Radiology report" in page.locator(".doc-view h2").inner_text()
    _pages_drawn(page, 2)
    _red_title(page)
    shot = save_shot(page, "report-phone", tmp_path)
    assert shot.is_file()
    _download(page, server, files["wrapped"].rstrip(b"\0"), tmp_path)
    # the page can be wider than the screen only by its pictures: nothing to scroll sideways
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # the browser's own pinch zoom is left to work on the pages: the viewport allows zoom and
    # nothing on the way up from a page takes the touches
    meta = page.get_attribute("meta[name=viewport]", "content") or ""
    assert "user-scalable=no" not in meta.replace(" ", "") and "maximum-scale" not in meta
    actions = page.evaluate(
        """() => { const out = []; for (let e = document.querySelector('img.pdf-page'); e;
        e = e.parentElement) out.push(getComputedStyle(e).touchAction); return out; }"""
    )
    assert set(actions) == {"auto"}, actions

    # the CD's REPORT folder's plain PDF file: one page, the same picture
    _open(page, "a.document.pdf")
    _pages_drawn(page, 1)
    _red_title(page)
    _download(page, server, files["plain"], tmp_path)


def test_a_damaged_pdf_says_so_and_keeps_its_download(report_server, phone_page, tmp_path):
    server, files = report_server
    page, _errors = phone_page
    sign_in(page, server)
    _open(page, "a.document.dicom-pdf", has_text="Damaged report")
    lines = page.locator(".doc-view .pdf-error").all_text_contents()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Damaged report: This PDF cannot be shown"), lines
    assert page.locator(".doc-view img").count() == 0
    save_shot(page, "damaged-phone", tmp_path)
    # a damaged PDF is sent as kept, the even-length pad included (where it ends is unknown)
    _download(page, server, files["damaged"], tmp_path)
