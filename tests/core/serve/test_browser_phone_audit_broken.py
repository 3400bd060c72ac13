"""A series the server cannot read, on a phone (390 x 844, touch), in Debian's Chromium: its
card in the library says "no picture" (not the browser's broken-image icon), and opening it
says why in words that stay on the screen. Before (stop 19's look at the pages), the message
quoting the series' 64-character UID and the file's path ran off the screen's right edge and
the page scrolled sideways, the message flush against the screen's edge.

The library: a generated CT, and a second one whose stored files were cut short after the
import (as a failing disk or a copy stopped half-way would leave them).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import save_shot, sign_in, watch_errors, write_ct
from serve_process import ServeProcess

# the series UID is as long as DICOM allows, so the message must break it
LONG_UID = "1.2.826.0.1.3680043.8.498." + "1234567890" * 3 + "12345678"


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    from ownscan.core.library import open_library

    root = tmp_path_factory.mktemp("phone-broken")
    paths = write_ct(root / "src" / "ct")
    import pydicom

    study = pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID
    assert len(LONG_UID) == 64
    write_ct(
        root / "src" / "cut",
        series_number=2,
        description="cut short",
        study_uid=study,
        series_uid=LONG_UID,
        n_slices=4,
    )
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(root / "src"), "--library", str(root / "library")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    with open_library(root / "library", read_only=True) as lib:
        stored = [item.path for item in lib.series_items(LONG_UID)]
    for path in stored:
        assert path is not None
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        Path(path).write_bytes(Path(path).read_bytes()[:1500])
    server = ServeProcess.start(root / "library")
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture
def phone422(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page, expected="status of 422")  # the cut series' answers
    yield page
    ctx.close()
    assert not errors, errors


def test_a_series_that_cannot_be_read(broken_server: Any, phone422: Any, tmp_path: Path) -> None:
    page = phone422
    sign_in(page, broken_server)
    card = page.locator(f".series[data-uid='{LONG_UID}']")
    card.locator(".thumb-failed").wait_for(timeout=60_000)
    assert card.locator(".thumb-failed").inner_text() == "no picture"
    assert card.locator("img").count() == 0  # no broken-image icon left
    # the good series' thumbnail is still drawn
    good = page.locator(".series", has_text="generated CT").locator("img.thumb")
    good.wait_for()
    page.wait_for_function(
        "(e) => e.complete && e.naturalWidth > 0", arg=good.element_handle(), timeout=60_000
    )
    card.click()
    error = page.locator("main p.error")
    error.wait_for(timeout=60_000)
    save_shot(page, "audit-broken-390x844", tmp_path)
    assert "Could not open this series" in error.inner_text()
    assert LONG_UID[:30] in error.inner_text().replace("\n", "")
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    box = error.bounding_box()
    assert box is not None
    # on the screen, off its edges
    assert box["x"] >= 8 and box["x"] + box["width"] <= 390 - 8, box
