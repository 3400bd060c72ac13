"""The door: who may look at the library through ``ownscan serve``.

Every request needs the server's secret. It arrives once in the address (``/?token=T``), is
compared in constant time, and is then kept by the browser as an ``HttpOnly; SameSite=Strict``
cookie; the answer is a redirect to ``/`` so the token leaves the address bar (and the
browser's history). Anything else without the right cookie is answered 401 with a page that
says nothing about the library. A wrong token or cookie from one client makes that client's
next answers slower (a delay that grows with its recent failures), so guessing is pointless
even before the 128 bits make it so.

State-changing requests (POST, PUT, PATCH, DELETE) also need the header ``X-Ownscan: 1``: a
cross-site form cannot set a custom header, and a cross-site ``fetch`` that sets one needs a
CORS preflight, which this server never grants.

Log lines are written here, one per request: method, the route's template (``/api/series/
{uid}``, never the UID, a file name or the token), status and time. Uvicorn's own access log is
switched off by the command, because it would print the address with the token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE", "STATE_HEADER", "Door"]

log = logging.getLogger("ownscan.serve")

COOKIE = "ownscan_session"
STATE_HEADER = "x-ownscan"
_STATE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DOOR_TEXT = (
    b"<!doctype html><html><head><meta charset=utf-8><title>ownscan</title></head>"
    b"<body><p>ownscan: open the address printed by <code>ownscan serve</code>.</p>"
    b"</body></html>\n"
)
# Every answer: no caching of patient data, no sniffing, no address (with a token) in
# Referer, no framing by other sites. The CSP allows what the page needs (its own modules,
# workers from blobs, images from blobs/data, PDFs in a same-origin frame).
_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; "
        b"style-src 'self' 'unsafe-inline'; object-src 'self'; frame-src 'self'; "
        b"frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    ),
]
_FAIL_WINDOW_S = 600.0  # failures older than this are forgotten
_DELAY_STEP_S = 0.25  # each recent failure adds this much to the next bad answer
_DELAY_MAX_S = 5.0


class Door:
    """ASGI middleware: the token door, the state-change header, security headers, logging.

    Parameters
    ----------
    app
        The application behind the door.
    token
        The secret (``secrets.token_urlsafe(16)``, or the one of ``--token-file``).
    secure
        Served over TLS: the cookie gets ``Secure``.
    route_name
        Maps a scope to the template of the route it matches (for log lines).
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        secure: bool = False,
        route_name: Callable[[Scope], str] | None = None,
    ) -> None:
        if len(token) < 16:
            raise ValueError("the token must be at least 16 characters")
        self.app = app
        self._token = token.encode()
        self._secure = secure
        self._route_name = route_name or (lambda scope: "?")
        self._failures: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_box = [0]

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = int(message["status"])
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._dispatch(scope, receive, send_logged)
        finally:
            ms = (time.perf_counter() - started) * 1000.0
            log.info(
                "%s %s %d %.0f ms",
                scope.get("method", "?"),
                self._template(scope),
                status_box[0],
                ms,
            )

    def _template(self, scope: Scope) -> str:
        try:
            return self._route_name(scope)
        except Exception:  # a log line must never fail a request
            return "?"

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("?", 0))[0]
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path == "/" and "token" in query and method in ("GET", "HEAD"):
            if self._matches(query["token"][0].encode()):
                await self._enter(send)
            else:
                await self._refuse(scope, send, client, bad=True)
            return
        cookie = _cookie(scope)
        if cookie is None:
            await self._refuse(scope, send, client, bad=False)
            return
        if not self._matches(cookie.encode()):
            await self._refuse(scope, send, client, bad=True)
            return
        if method in _STATE_METHODS and _header(scope, STATE_HEADER) != "1":
            await _plain(
                send,
                403,
                b'{"error": "state-changing requests need the header X-Ownscan: 1"}',
                b"application/json",
            )
            return
        await self.app(scope, receive, send)

    def _matches(self, given: bytes) -> bool:
        return hmac.compare_digest(given, self._token)

    async def _enter(self, send: Send) -> None:
        flags = "; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if self._secure else "")
        cookie = f"{COOKIE}={self._token.decode()}{flags}"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", b"/"),
                    (b"set-cookie", cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, scope: Scope, send: Send, client: str, bad: bool) -> None:
        if bad:
            now = time.monotonic()
            recent = [t for t in self._failures.get(client, []) if now - t < _FAIL_WINDOW_S]
            recent.append(now)
            self._failures[client] = recent[-64:]
            if len(self._failures) > 4096:  # many addresses: forget those without recent tries
                self._failures = {
                    c: ts for c, ts in self._failures.items() if ts and now - ts[-1] < 60.0
                }
            await asyncio.sleep(min(_DELAY_MAX_S, _DELAY_STEP_S * len(recent)))
        if scope.get("path", "").startswith("/api/"):
            body = b'{"error": "not signed in: open the address printed by ownscan serve"}'
            await _plain(send, 401, body, b"application/json")
        else:
            await _plain(send, 401, _DOOR_TEXT, b"text/html; charset=utf-8")


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, "cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is the same as none
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _header(scope: Scope, name: str) -> str | None:
    key = name.encode()
    for k, v in scope.get("headers", []):
        if k.lower() == key:
            return bytes(v).decode("latin-1")
    return None


async def _plain(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
