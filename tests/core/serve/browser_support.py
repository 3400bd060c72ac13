"""Helpers of the browser tests (the fixtures are in conftest.py): the Chromium flags, a page's
console errors, signing in, opening a series."""

from __future__ import annotations

from typing import Any

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


def watch_errors(page: Any) -> list[str]:
    """Uncaught exceptions and console errors of ``page`` (a 401 the test asked for aside)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

    def console(msg: Any) -> None:
        if msg.type == "error" and "401" not in msg.text and "favicon" not in msg.text:
            errors.append(f"console: {msg.text}")

    page.on("console", console)
    return errors


def sign_in(page: Any, server: Any) -> None:
    """Open the page through the token address and wait for the library."""
    page.goto(server.url)
    page.wait_for_selector(".patients, .library .empty", timeout=60_000)


def open_series(page: Any, index: int = 0) -> str:
    """Click a series of the library and wait until full resolution is drawn; its UID."""
    card = page.locator(".series").nth(index)
    uid = str(card.get_attribute("data-uid"))
    card.click()
    page.wait_for_selector(".stage[data-level='0'][data-quality='full']", timeout=120_000)
    page.evaluate("() => window.ownscanViewer.afterDraw()")
    return uid
