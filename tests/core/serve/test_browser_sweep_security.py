"""The page's side of security, on sweepgen.py's library, whose patient name, study and series
descriptions, institution and report text are hostile (markup with event handlers,
``</script>``, quotes, a right-to-left override, zero-width characters): nothing from a file
runs or becomes an element, anywhere it reaches the page (library, persons, viewer, window
presets, report panel, the server's Structured Report page, the upload outcome's file names);
the token leaves the address bar and the history once the cookie is set, and is nowhere the
page's scripts can read it; without the cookie every address answers 401 naming nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import sign_in
from serve_process import ServeProcess
from sweepgen import CT_DESCRIPTION, HOSTILE_NAME, HOSTILE_REPORT, serve_sweep_library

# what no page may hold as markup: the elements the hostile text would make
INJECTED = "img[src='x'], main b, main i, main script, body > script:not([src])"
# the page shows a right-to-left override as the escape \u202e, never the character itself
RLO = "\u202e"


@pytest.fixture(scope="module")
def hostile_server(
    pydicom_files: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serve_sweep_library(pydicom_files, tmp_path_factory.mktemp("hostile"))


def _inert(page: Any) -> None:
    """Nothing ran, nothing became an element, no override reorders what is read."""
    assert page.evaluate("() => window.pwned") is None
    assert page.locator(INJECTED).count() == 0
    assert RLO not in page.inner_text("body")
    assert page.title() == "ownscan"


def _library(page: Any) -> dict[str, Any]:
    return page.evaluate("async () => (await fetch('/api/library')).json()")


def test_hostile_text_shows_as_text_everywhere(hostile_server, desktop, tmp_path):
    page = desktop
    sign_in(page, hostile_server)
    page.wait_for_selector(".series img.thumb")
    _inert(page)
    body = page.inner_text("body")
    # the markup is there as text (the controls as escapes)
    assert "</script><b>Eve</b>" in body
    assert 'onerror="window.pwned=1"' in body
    assert "\\u202e" in body
    page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
    # the viewer: toolbar, window presets, report panel with the SR's hostile text
    page.locator(".series", has_text="CT · 40 images").click()
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    page.wait_for_selector("text=window.pwned=4", timeout=60_000)
    _inert(page)
    page.screenshot(path=str(tmp_path / "viewer.png"))
    # the server's readable page of the Structured Report, opened from the library
    lib = _library(page)
    docs = [d for p in lib["patients"] for s in p["studies"] for d in s["documents"]]
    sr = next(d for d in docs if d["kind"] == "sr")
    report = page.context.new_page()
    report.goto(hostile_server.base + sr["url"])
    assert report.evaluate("() => window.pwned") is None
    assert report.locator("script, img, i").count() == 0
    text = report.inner_text("body")
    assert HOSTILE_REPORT in text
    assert RLO not in text and "\\u202e" in text  # the patient's name: the override escaped
    report.close()
    # the names the server holds are the hostile ones: the test would fail if they were not
    names = [p["name"] for p in lib["patients"]]
    assert any("<b>Eve</b>" in n for n in names), names
    studies = [s for p in lib["patients"] for s in p["studies"]]
    series = [se["description"] for s in studies for se in s["series"]]
    assert CT_DESCRIPTION in series
    assert HOSTILE_NAME.split("^")[0] in str(names)


def test_upload_outcome_file_names_are_text(hostile_server, desktop, tmp_path):
    """A file whose name is markup with an event handler and a right-to-left override: its
    outcome line names it as text."""
    page = desktop
    sign_in(page, hostile_server)
    name = "<img src=x onerror=window.pwned=9>\u202e.dcm"
    bad = tmp_path / name
    bad.write_bytes(b"not a DICOM file " * 20)
    page.set_input_files(".files-input", str(bad))
    page.wait_for_selector(".outcomes li", timeout=120_000)
    outcome = page.inner_text(".outcomes")
    assert "<img src=x onerror=window.pwned=9>\\u202e.dcm" in outcome, outcome
    page.wait_for_selector(".upload-message.error")
    _inert(page)


def test_the_token_leaves_the_address_and_the_history(hostile_server, browser):
    """The token URL answers with the cookie and a redirect: the address bar, the history (back
    leads before it, never to it), the DOM, storage and document.cookie (HttpOnly) never show
    it; a link into a series (the QR code's address with a fragment) lands in the viewer."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = ctx.new_page()
    token = hostile_server.token
    page.goto(hostile_server.base + "/nothing-yet")  # a page before: what back must reach
    page.goto(hostile_server.url)
    page.wait_for_selector(".patients", timeout=60_000)
    uid = page.locator(".series").first.get_attribute("data-uid")

    def nowhere() -> None:
        assert token not in page.url
        held = page.evaluate(
            """() => [location.href, document.documentElement.outerHTML, document.cookie,
                     JSON.stringify(localStorage), JSON.stringify(sessionStorage),
                     document.referrer].join('\\n')"""
        )
        assert token not in held

    nowhere()
    assert page.url == hostile_server.base + "/"
    page.go_back()
    assert page.url == hostile_server.base + "/nothing-yet"
    page.go_forward()
    page.wait_for_selector(".patients")
    nowhere()
    # a link with the token and a fragment: the fragment stays, the token goes
    page.goto(f"{hostile_server.url}#/series/{uid}")
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    assert page.url == f"{hostile_server.base}/#/series/{uid}"
    nowhere()
    page.go_back()
    assert token not in page.url
    ctx.close()


def test_without_the_cookie_every_address_names_nothing(hostile_server, browser):
    signed = browser.new_context()
    page = signed.new_page()
    sign_in(page, hostile_server)
    lib = _library(page)
    signed.close()
    study = lib["patients"][0]["studies"][0]
    uid = study["series"][0]["series_uid"]
    doc = study["documents"][0]["url"]
    secrets = ["Eve", "GEN001", "Thorax", "clinic", "pwned", uid, doc.rsplit("/", 1)[1]]
    ctx = browser.new_context()  # no cookie
    page = ctx.new_page()
    addresses = [
        f"/#/series/{uid}",  # first: after "/", only the fragment would change (no request)
        "/",
        "/api/library",
        "/api/persons",
        f"/api/series/{uid}",
        f"/api/series/{uid}/thumbnail.png",
        f"/api/series/{uid}/voxels?level=1",
        f"/api/series/{uid}/render.png",
        doc,
        "/static/app.js",
        "/?token=not-the-token",
    ]
    for address in addresses:
        resp = page.goto(hostile_server.base + address)
        assert resp is not None and resp.status == 401, address
        assert "set-cookie" not in resp.headers, address
        body = resp.text()
        shown = page.content() + page.title()
        for secret in secrets:
            assert secret not in body and secret not in shown, (address, secret)
    assert page.evaluate("() => window.pwned") is None
    ctx.close()
    assert Path(hostile_server.stderr_path).is_file()
    assert "Eve" not in hostile_server.log and hostile_server.token not in hostile_server.log
