"""The door on its own (an ASGI app behind it, no server): wrong tokens are answered more slowly
the more a client tries, missing ones are not; every answer carries the security headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ownscan.core.serve import Door
from ownscan.core.serve import _door as door_module

TOKEN = "t0ken-of-sixteen-chars-or-more"


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"library"})


def _call(door: Door, path: str, client: str, cookie: str | None = None, method: str = "GET"):
    query = b""
    if "?" in path:
        path, q = path.split("?", 1)
        query = q.encode()
    headers = [(b"cookie", f"ownscan_session={cookie}".encode())] if cookie else []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers,
        "client": (client, 1234),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(door(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_wrong_tokens_are_slowed_more_and_more(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(door_module.asyncio, "sleep", sleep)
    door = Door(_inner, TOKEN)
    assert _call(door, "/api/library", "10.0.0.1")[0] == 401  # no cookie: nothing to slow
    assert delays == []
    for _ in range(3):
        assert _call(door, "/api/library", "10.0.0.1", cookie="x" * 30)[0] == 401
    assert _call(door, "/?token=wrong", "10.0.0.1")[0] == 401
    assert delays == [0.25, 0.5, 0.75, 1.0]
    assert _call(door, "/api/library", "10.0.0.2", cookie="y" * 30)[0] == 401
    assert delays[-1] == 0.25  # another client starts afresh
    for _ in range(30):
        _call(door, "/api/library", "10.0.0.3", cookie="z" * 30)
    assert delays[-1] == 5.0  # capped
    status, _, body = _call(door, "/api/library", "10.0.0.1", cookie=TOKEN)
    assert status == 200 and body == b"library" and len(delays) == 35  # no delay when right


def test_answers_carry_the_security_headers() -> None:
    door = Door(_inner, TOKEN)
    for path, cookie in (
        ("/api/library", TOKEN),
        ("/api/library", None),
        (f"/?token={TOKEN}", None),
    ):
        _, headers, _ = _call(door, path, "10.0.0.9", cookie=cookie)
        assert headers[b"cache-control"] == b"no-store"
        assert headers[b"referrer-policy"] == b"no-referrer"
        assert headers[b"x-content-type-options"] == b"nosniff"
        assert b"frame-ancestors 'self'" in headers[b"content-security-policy"]
    status, headers, _ = _call(door, f"/?token={TOKEN}", "10.0.0.9", method="HEAD")
    assert status == 303 and headers[b"location"] == b"/"
    assert _call(door, "/api/uploads", "10.0.0.9", cookie=TOKEN, method="POST")[0] == 403
    with pytest.raises(ValueError, match="at least 16"):
        Door(_inner, "short")
