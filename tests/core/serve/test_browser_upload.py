"""Uploads from the page (a real Chromium and a real ``ownscan serve``): a portal ZIP and a
folder through the page's file inputs, then the series listed and drawn; bad uploads (not
DICOM, a zip bomb, a zip-slip entry) give a clear message and change nothing in the library."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import canvas_rgb, open_series, sign_in, watch_errors, write_ct
from serve_process import ServeProcess, make_ct_zip

from ownscan.core.library import open_library


@pytest.fixture(scope="module")
def empty_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uplib") / "library"


@pytest.fixture(scope="module")
def upload_server(empty_library: Path) -> Iterator[ServeProcess]:
    server = ServeProcess.start(empty_library)
    yield server
    assert server.stop() == 0, server.log


def library_state(library: Path) -> tuple[int, list[str]]:
    """The number of instances and the series UIDs the library holds."""
    with open_library(library) as lib:
        series = sorted(s.series_uid for s in lib.series())
        return sum(s.images for s in lib.series()), series


def staged(library: Path) -> list[Path]:
    """Files left in the server's upload staging area."""
    root = library / "serve" / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(page: Any, selector: str, files: Any) -> tuple[str, list[str]]:
    """Give ``files`` to one of the page's file inputs; the message and the outcome lines."""
    page.set_input_files(selector, files)
    page.wait_for_selector(".upload-message.ok, .upload-message.error", timeout=120_000)
    message = page.locator(".upload-message").inner_text()
    outcomes = page.locator(".outcome").all_inner_texts()
    return message, outcomes


def test_bad_uploads_say_why_and_add_nothing(upload_server, empty_library, desktop, tmp_path):
    page = desktop
    sign_in(page, upload_server)
    before = library_state(empty_library)

    notes = tmp_path / "notes.txt"
    notes.write_text("not a scan\n")
    message, outcomes = upload(page, ".files-input", str(notes))
    assert message.startswith("Nothing was added"), message
    assert any("notes.txt" in o and "skipped" in o for o in outcomes), outcomes

    # a zip whose entry climbs out of the folder it is unpacked into
    dicom = write_ct(tmp_path / "one", n_slices=1)[0]
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as z:
        z.write(dicom, "../../escaped.dcm")
    page.reload()
    page.wait_for_selector(".upload")
    message, outcomes = upload(page, ".files-input", str(slip))
    assert message.startswith("Nothing was added"), message
    assert any("refused" in o and ".." in o for o in outcomes), outcomes

    # a zip bomb: 64 MB of zeros in a few kB
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.dcm", bytes(64 << 20))
    page.reload()
    page.wait_for_selector(".upload")
    message, outcomes = upload(page, ".files-input", str(bomb))
    assert message.startswith("Nothing was added"), message
    assert any("refused" in o and "zip bomb" in o for o in outcomes), outcomes
    page.screenshot(path=str(tmp_path / "bad-upload.png"))

    assert library_state(empty_library) == before
    assert staged(empty_library) == []


def test_upload_portal_zip_then_view(upload_server, empty_library, desktop, tmp_path):
    page = desktop
    sign_in(page, upload_server)
    _, before = library_state(empty_library)
    write_ct(tmp_path / "portal" / "DICOM" / "ST1", seed=7, description="zip upload")
    portal = tmp_path / "portal.zip"
    make_ct_zip(tmp_path / "portal", portal)
    message, outcomes = upload(page, ".files-input", str(portal))
    assert message.startswith("Added 40 file(s)"), message
    assert len(outcomes) == 40 and all("imported" in o for o in outcomes), outcomes
    # the library on the page refreshed: the new series is listed, and it draws
    card = page.locator(".series", has_text="zip upload")
    card.wait_for()
    assert "40 images" in card.inner_text()
    _, after = library_state(empty_library)
    assert len(after) == len(before) + 1
    index = [page.locator(".series").nth(n).inner_text() for n in range(len(after))]
    open_series(page, next(n for n, t in enumerate(index) if "zip upload" in t))
    assert canvas_rgb(page).std() > 10
    assert staged(empty_library) == []


def test_upload_folder_then_view(upload_server, empty_library, desktop, tmp_path):
    page = desktop
    sign_in(page, upload_server)
    _, before = library_state(empty_library)
    folder = tmp_path / "CD"
    write_ct(folder / "DICOM" / "A", seed=11, n_slices=24, description="folder upload")
    message, outcomes = upload(page, ".folder-input", str(folder))
    assert message.startswith("Added 24 file(s)"), message
    # the names are the folder's relative paths, as the browser gave them
    assert all("/DICOM/A/IM" in o and "imported" in o for o in outcomes), outcomes
    card = page.locator(".series", has_text="folder upload")
    card.wait_for()
    _, after = library_state(empty_library)
    assert len(after) == len(before) + 1
    texts = page.locator(".series").all_inner_texts()
    open_series(page, next(n for n, t in enumerate(texts) if "folder upload" in t))
    rgb = canvas_rgb(page)
    assert rgb.std() > 10 and np.count_nonzero(rgb) > rgb.size // 20


def test_drop_files_on_the_page(upload_server, empty_library, desktop, tmp_path):
    """Files dropped on the drop zone (a DataTransfer built in the page, as a drag from the
    desktop brings it) are uploaded and imported."""
    import base64

    page = desktop
    sign_in(page, upload_server)
    _, before = library_state(empty_library)
    files = write_ct(tmp_path / "drop", n_slices=3, seed=21, description="dropped")
    payload = [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in files]
    page.evaluate(
        """(files) => {
            const dt = new DataTransfer();
            for (const [name, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], name, {type: 'application/dicom'}));
            }
            const zone = document.querySelector('.drop');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""",
        payload,
    )
    page.wait_for_selector(".upload-message.ok, .upload-message.error", timeout=120_000)
    assert page.locator(".upload-message").inner_text().startswith("Added 3 file(s)")
    page.locator(".series", has_text="dropped").wait_for()
    assert len(library_state(empty_library)[1]) == len(before) + 1


def test_upload_resumes_after_a_lost_chunk(upload_server, empty_library, browser, tmp_path):
    """The first PUT of the file is lost on the way (the connection fails): the page asks the
    server how much arrived, sends again from there, and the import completes."""
    ctx = browser.new_context()
    page = ctx.new_page()
    errors = watch_errors(page)
    sign_in(page, upload_server)
    _, before = library_state(empty_library)
    write_ct(tmp_path / "resume" / "DICOM", seed=31, n_slices=6, description="resumed")
    portal = tmp_path / "resume.zip"
    make_ct_zip(tmp_path / "resume", portal)
    seen: list[str] = []

    def flaky(route: Any) -> None:
        seen.append(route.request.method)
        if len(seen) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/uploads/*/files/0?offset=*", flaky)
    message, _ = upload(page, ".files-input", str(portal))
    ctx.close()
    assert seen == ["PUT", "PUT"], seen
    assert message.startswith("Added 6 file(s)"), message
    assert len(library_state(empty_library)[1]) == len(before) + 1
    assert staged(empty_library) == []
    # the one error the page met is the connection this test broke
    assert len(errors) == 1 and "ERR_CONNECTION_RESET" in errors[0], errors


def test_upload_a_pdf_report(upload_server, desktop, tmp_path):
    """A PDF on its own (a report the patient was given) is kept and listed with the other
    documents, and opens as a PDF."""
    from library_dicomgen import PDF

    page = desktop
    sign_in(page, upload_server)
    report = tmp_path / "discharge letter.pdf"
    report.write_bytes(PDF)
    message, outcomes = upload(page, ".files-input", str(report))
    assert message.startswith("Added 1 file(s)"), (message, outcomes)
    link = page.locator(".patient", has_text="Other documents").locator(".document").first
    link.click()  # the report's own page (docpage.js), its file one link away
    href = page.locator(".doc-view a.pdf-open").get_attribute("href")
    resp = page.context.request.get(upload_server.base + str(href))
    assert resp.headers["content-type"] == "application/pdf" and resp.body() == PDF
