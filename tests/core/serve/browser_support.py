"""Helpers of the browser tests (the fixtures are in conftest.py): the Chromium flags, a page's
console errors, signing in, opening a series."""

from __future__ import annotations

import base64
import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/core: ctgen

CHROMIUM = "/usr/bin/chromium"
# SwiftShader for WebGL2 on GPU-less machines; no sandbox as root; and no background
# networking: the closed network here refuses Chromium's own connections (and it would be slow)
CHROMIUM_ARGS = [
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]


def watch_errors(page: Any, expected: str = "401") -> list[str]:
    """Uncaught exceptions and console errors of ``page`` (those holding ``expected``, e.g.
    the 401 the test asked for, aside)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

    def console(msg: Any) -> None:
        if msg.type == "error" and expected not in msg.text and "favicon" not in msg.text:
            errors.append(f"console: {msg.text}")

    page.on("console", console)

    def response(r: Any) -> None:  # the console's "status of 400" line names no address
        if r.status == 400:
            try:  # the server's JSON says why (a 400 seen now and then on the head MR's
                body = r.text()[:300]  # thumbnail, not reproduced: the reason, next time)
            except Exception as exc:  # a body the browser no longer holds
                body = f"(body not available: {type(exc).__name__})"
            errors.append(f"response 400 to {r.request.method} {r.url}: {body}")

    page.on("response", response)
    return errors


def sign_in(page: Any, server: Any) -> None:
    """Open the page through the token address and wait for the library."""
    page.goto(server.url)
    page.wait_for_selector(".patients, .library .empty", timeout=60_000)


def open_series(page: Any, index: int = 0) -> str:
    """Click a series of the library and wait until full resolution is drawn (with its
    gradient texels); its UID."""
    card = page.locator(".series").nth(index)
    uid = str(card.get_attribute("data-uid"))
    card.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    # and its gradient texels, which the volume's worker sends after the grey values
    page.evaluate(
        """async () => { const v = window.ownscanViewer;
            if (v.renderer) await v.renderer.gradientSettled(); await v.afterDraw(); }"""
    )
    return uid


def write_ct(folder: Path, **kw: Any) -> list[Path]:
    """A small generated CT (64 x 64 x 40 by default): asymmetric left/right, front/back and
    head/feet, so a flipped or transposed picture differs."""
    from ctgen import write_ct_series

    options: dict[str, Any] = {
        "n_slices": 40,
        "rows": 64,
        "cols": 64,
        "pixel_spacing": (0.9, 0.9),
        "spacing": 2.0,
    }
    options.update(kw)
    return write_ct_series(folder, **options)


def canvas_rgb(page: Any, selector: str = ".stage canvas.gl") -> np.ndarray:
    """The pixels of a canvas (the GL canvas keeps its drawing buffer), RGB, top row first."""
    url = page.eval_on_selector(selector, "c => c.toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def save_shot(page: Any, name: str, tmp_path: Path) -> Path:
    """A screenshot of ``page`` as ``name.png`` in ``$OWNSCAN_SHOTS`` (else ``tmp_path``)."""
    folder = Path(os.environ.get("OWNSCAN_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
