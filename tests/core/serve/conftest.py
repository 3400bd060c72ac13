"""Shared fixtures of the serve tests: a real ``ownscan serve`` on a generated library, and
Debian's Chromium driven by Playwright (WebGL2 through SwiftShader; never a downloaded browser).

The browser fixtures fail, never skip: CI installs ``chromium`` (.ci/system-packages.txt) and
``playwright`` (the dev extra).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, watch_errors, write_ct
from serve_process import ServeProcess

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "library"))  # library_dicomgen

PATIENT = ("Phantom^Generated", "GEN001")  # the patient of tests/core/ctgen.py's series


def _ownscan(*args: str) -> str:
    exe = Path(sys.executable).with_name("ownscan")
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def ct_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library holding, in one study, a generated CT series (series 1, axis-aligned), the
    same anatomy scanned obliquely (series 2, "oblique CT": rows turned 25 degrees about the
    head-feet axis, columns tilted 15 degrees) and a PDF report, imported by ``ownscan
    import``."""
    import math

    import pydicom
    from library_dicomgen import encapsulated_pdf

    root = tmp_path_factory.mktemp("ctlib")
    paths = write_ct(root / "src" / "ct")
    study = pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID
    a, b = math.radians(25.0), math.radians(15.0)
    iop = (math.cos(a), math.sin(a), 0.0, -math.sin(a) * math.cos(b), math.cos(a) * math.cos(b))
    write_ct(
        root / "src" / "oblique",
        iop=(*iop, math.sin(b)),
        series_number=2,
        description="oblique CT",
        study_uid=study,
        seed=3,
    )
    encapsulated_pdf(root / "src" / "report.dcm", study, patient=PATIENT)
    _ownscan("import", str(root / "src"), "--library", str(root / "library"))
    return root / "library"


@pytest.fixture(scope="module")
def served(ct_library: Path) -> Iterator[ServeProcess]:
    """``ownscan serve`` on :func:`ct_library`; stopped with Ctrl-C (exit status 0)."""
    server = ServeProcess.start(ct_library)
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright. Per module, not per session: while
    Playwright's sync API runs, its event loop is the thread's, and the server's tests that
    call ``asyncio.run`` must not meet it."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """A desktop-sized page (device pixel ratio 1) whose console errors fail the test."""
    ctx = browser.new_context(viewport={"width": 1000, "height": 760}, device_scale_factor=1)
    page = ctx.new_page()
    errors = watch_errors(page)
    yield page
    ctx.close()
    assert not errors, errors


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone: 390 x 844 CSS pixels, touch, mobile (device pixel ratio 1 keeps SwiftShader's
    work small)."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    page = ctx.new_page()
    errors = watch_errors(page)
    yield page
    ctx.close()
    assert not errors, errors
