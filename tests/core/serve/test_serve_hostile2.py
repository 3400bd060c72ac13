"""Hostile requests to a real ``ownscan serve`` (the second hostile sweep): path traversal in
URLs (plain, percent-encoded, backslashes), ids that are not ids, huge and malformed Range
headers, and JSON bodies far over their cap, with and without a Content-Length.

What holds: every answer is a 4xx (or the page's own file), never a 500, never a file from
outside the page's folder or the library's index; the server answers afterwards; and a body
over the JSON cap is refused as it arrives: the server's peak memory (VmHWM) grows by less
than the body. Before the fix a 256 MiB POST was held whole in memory before its size was
looked at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_process import ServeProcess

BAD_PATHS = [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/..\\..\\..\\etc\\passwd",
    "/static//etc/passwd",
    "/api/series/..%2f..%2findex.sqlite",
    "/api/series/1.2.3%00/voxels",
    "/api/series/%1b%5b31m/thumbnail.png",
    "/api/series/" + "1." * 5000 + "1",
    "/api/documents/..%2findex.sqlite",
    "/api/documents/%2e%2e",
    "/api/uploads/..%2f..%2f",
    "/api/uploads/abc/files/notanumber",
    "/api/uploads/abc/files/-1",
    "/api/uploads/abc/files/99999999999999999999999999",
    "/api/jobs/..%2f..",
    "/api/series/x/voxels?level=1e9&volume=-1",
    "/api/series/x/voxels?volume=" + "9" * 5000,
    "/api/series/x/render.png?width=1e9&zoom=nan",
]


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("path", BAD_PATHS)
def test_hostile_urls_are_4xx_and_give_nothing(served: ServeProcess, path: str) -> None:
    c = served.client()
    method = "PUT" if "/files/" in path else "GET"
    r = c.request(method, path, headers={"X-Ownscan": "1"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert b"root:" not in r.content and b"SQLite format" not in r.content
    assert c.get("/api/library").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "bytes=99999999999999999999999-",
        "bytes=-0",
        "bytes=5-1",
        "bytes=" + ",".join(f"{i}-{i}" for i in range(2000)),
        "bytes=abc",
        "lines=0-10",
        "bytes=0-" + "9" * 5000,
    ],
)
def test_hostile_range_headers(served: ServeProcess, value: str) -> None:
    c = served.client()
    r = c.get("/static/app.js", headers={"Range": value})
    assert r.status_code in (200, 206, 400, 416), (r.status_code, r.text[:300])
    assert len(r.content) <= len(c.get("/static/app.js").content) * 2
    assert c.get("/api/library").status_code == 200


def _chunks(total: int, piece: int = 1 << 20) -> Iterator[bytes]:
    block = b" " * piece
    for _ in range(total // piece):
        yield block


@pytest.mark.parametrize("declared", [True, False])
@pytest.mark.parametrize("path", ["/api/uploads", "/api/persons/merge"])
def test_a_json_body_over_its_cap_is_refused_as_it_arrives(
    served: ServeProcess, declared: bool, path: str
) -> None:
    size = 256 << 20
    c = served.client()
    before = _hwm_kib(served.proc.pid)
    body: bytes | Iterator[bytes] = b" " * size if declared else _chunks(size)
    try:
        r = c.post(path, content=body, headers={"X-Ownscan": "1"})
        status, text = r.status_code, r.text
    except httpx.TransportError:  # the server answered and closed before the rest was sent
        status, text = 400, "request body too large"
    assert status == 400 and "too large" in text, (status, text[:300])
    grown = _hwm_kib(served.proc.pid) - before
    assert grown < (size >> 10) // 2, f"peak memory grew {grown} KiB for a {size >> 20} MiB body"
    assert c.get("/api/library").status_code == 200
