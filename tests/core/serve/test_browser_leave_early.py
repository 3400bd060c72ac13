"""Leaving a series while its programs are on their way (back to the library, another series
from the history, a reload): the viewer left behind lost its WebGL context on purpose, and must
neither take that for a browser without WebGL2 (no "using server frames" warning, no server
frames asked for) nor disturb the series shown next, which draws with WebGL2."""

from __future__ import annotations

from typing import Any

from browser_support import sign_in


def test_leaving_while_the_programs_load(served: Any, desktop: Any) -> None:
    page = desktop
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    frames: list[str] = []
    page.on("request", lambda r: frames.append(r.url) if "/render.png" in r.url else None)

    # the 2D program comes slowly, as on a slow link: the user leaves before it is there
    def slow(route: Any) -> None:
        page.wait_for_timeout(1500)
        route.continue_()

    page.route("**/api/shaders/slice", slow)
    sign_in(page, served)
    uids = page.evaluate("() => [...document.querySelectorAll('.series')].map(a => a.dataset.uid)")
    page.locator(".series").first.click()
    page.wait_for_function("() => !!window.ownscanViewer")
    page.go_back()  # the library again
    page.wait_for_selector(".patients", timeout=60_000)
    page.go_forward()  # and the series, a new viewer
    page.wait_for_timeout(300)
    page.evaluate(f"() => {{ location.hash = '#/series/{uids[1]}'; }}")  # another, at once
    page.wait_for_selector(".stage[data-level='0']", timeout=120_000)
    page.wait_for_timeout(2000)  # the programs of the viewers left behind have arrived
    state = page.evaluate(
        """() => { const v = window.ownscanViewer;
            return {uid: v.uid, gl: !!v.renderer, renderer: v.stage.dataset.renderer || '',
                    viewers: document.querySelectorAll('.viewer').length}; }"""
    )
    assert state == {"uid": uids[1], "gl": True, "renderer": "", "viewers": 1}, state
    assert not [w for w in warnings if "server frames" in w], warnings
    assert frames == []
