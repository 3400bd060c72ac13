"""An upload cut by a reload goes on where it stopped: the page keeps the staged upload's id in
the tab's sessionStorage (under the files' names, sizes and dates), says after the reload that
an upload was cut short, and when the same file is chosen again sends only what the server
does not have; the import then adds the series once. Never the token in storage."""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import sign_in, write_ct
from serve_process import ServeProcess
from test_browser_upload import staged, upload

from ownscan.core.library import open_library

CHUNK = 8 << 20  # _uploads.CHUNK_SIZE


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServeProcess, Path]]:
    lib = tmp_path / "library"
    open_library(lib).close()
    s = ServeProcess.start(lib)
    yield s, lib
    assert s.stop() == 0, s.log


def test_reload_during_an_upload_then_the_same_file(
    server: tuple[ServeProcess, Path], desktop: Any, tmp_path: Path
) -> None:
    s, lib = server
    page = desktop
    ct = write_ct(tmp_path / "ct", n_slices=12)
    portal = tmp_path / "portal.zip"
    with zipfile.ZipFile(portal, "w", zipfile.ZIP_STORED) as z:
        for p in ct:
            z.write(p, f"CT/{p.name}")
        z.writestr("padding.bin", os.urandom(2 * CHUNK + 12345))  # three chunks in all
    size = portal.stat().st_size
    sign_in(page, s)
    puts: list[int] = []

    def on_request(r: Any) -> None:
        m = re.search(r"/api/uploads/\w+/files/0\?offset=(\d+)", r.url)
        if m and r.method == "PUT":
            puts.append(int(m.group(1)))

    page.on("request", on_request)

    # the second chunk never gets an answer: the user reloads while it hangs
    def hang_after_first(route: Any) -> None:
        if "offset=0" in route.request.url:
            route.continue_()

    page.route(re.compile(r".*/api/uploads/\w+/files/0\?offset=\d+"), hang_after_first)
    page.set_input_files(".files-input", str(portal))
    page.wait_for_function(
        "() => document.querySelector('.progress-text').textContent.startsWith('Sending 8.0')",
        timeout=60_000,
    )
    for _ in range(100):  # the second chunk is on its way
        if len(puts) == 2:
            break
        page.wait_for_timeout(100)
    assert puts == [0, CHUNK], puts
    page.unroute(re.compile(r".*/api/uploads/\w+/files/0\?offset=\d+"))
    page.reload()
    page.wait_for_selector(".upload")
    assert "cut short" in page.locator(".upload-message").inner_text()
    kept = page.evaluate("() => Object.keys(sessionStorage).map(k => sessionStorage.getItem(k))")
    assert len(kept) == 1 and s.token not in kept[0], kept
    upload_id = json.loads(kept[0])["id"]
    status = page.context.request.get(f"{s.base}/api/uploads/{upload_id}").json()
    had = status["files"][0]["received"]
    assert had >= CHUNK, status
    puts.clear()
    message, outcomes = upload(page, ".files-input", str(portal))
    # only what the server did not have
    assert puts and puts[0] == had and puts[-1] == 2 * CHUNK, (had, puts)
    assert message.startswith(f"Added {len(ct)} file(s)"), message
    assert sum(o.endswith(": imported") for o in outcomes) == len(ct), outcomes
    assert page.evaluate("() => sessionStorage.length") == 0
    with open_library(lib) as opened:
        assert [x.images for x in opened.series()] == [len(ct)]
    assert staged(lib) == []
    assert size > 2 * CHUNK
