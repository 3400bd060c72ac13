"""A DICOMweb server that misbehaves on purpose, on 127.0.0.1 (issue #16).

It serves one real study (the DICOM files given) through QIDO-RS and WADO-RS like a conforming
server, except where a *fault* is set for a kind of request (``studies``, ``series``,
``instances``, ``instance``): malformed JSON, a JSON object instead of a list, a list repeated
whatever the offset, an endless answer or part, a part of any size made on the fly, a
body dripped one byte at a time, HTTP 500 or 503
with Retry-After. Each request is recorded (path, query, time) for the tests to check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydicom import dcmread

BOUNDARY = "ownscan-test-boundary"


@dataclass
class Request:
    kind: str
    path: str
    query: dict[str, list[str]]
    at: float


@dataclass
class Misbehaving:
    """The server's state: its files, the faults to inject and the requests seen."""

    files: list[Path]
    faults: dict[str, str] = field(default_factory=dict)
    fail_first: int = 0  # with fault "503" or "500": only the first N requests fail
    seen: list[Request] = field(default_factory=list)
    url: str = ""
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.by_sop = {}
        for f in self.files:
            ds = dcmread(f, stop_before_pixels=True)
            self.by_sop[str(ds.SOPInstanceUID)] = (f, ds)
        first = next(iter(self.by_sop.values()))[1]
        self.study = str(first.StudyInstanceUID)
        self.series = str(first.SeriesInstanceUID)

    def count(self, kind: str) -> int:
        return sum(r.kind == kind for r in self.seen)

    def study_json(self) -> list[dict[str, object]]:
        ds = next(iter(self.by_sop.values()))[1]
        return [
            {
                "0020000D": {"vr": "UI", "Value": [self.study]},
                "00100020": {"vr": "LO", "Value": [str(ds.PatientID)]},
                "00080020": {"vr": "DA", "Value": [str(ds.StudyDate)]},
                "00201206": {"vr": "IS", "Value": [1]},
                "00201208": {"vr": "IS", "Value": [len(self.by_sop)]},
            }
        ]

    def series_json(self) -> list[dict[str, object]]:
        return [
            {
                "0020000E": {"vr": "UI", "Value": [self.series]},
                "00080060": {"vr": "CS", "Value": ["CT"]},
                "00201209": {"vr": "IS", "Value": [len(self.by_sop)]},
            }
        ]

    def instances_json(self) -> list[dict[str, object]]:
        return [{"00080018": {"vr": "UI", "Value": [sop]}} for sop in self.by_sop]


def _kind(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[-1:] == ["studies"]:
        return "studies"
    if parts[-1:] == ["series"]:
        return "series"
    if parts[-1:] == ["instances"]:
        return "instances"
    return "instance"


def _handler(state: Misbehaving) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, ctype: str, body: bytes, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            kind = _kind(parts.path)
            state.seen.append(Request(kind, parts.path, parse_qs(parts.query), time.monotonic()))
            fault = state.faults.get(kind, "")
            n = state.count(kind)
            if fault in ("500", "503") and (not state.fail_first or n <= state.fail_first):
                self._send(int(fault), "text/plain", b"busy", Retry_After="1")
                return
            if kind == "instance":
                self._instance(parts.path.rsplit("/", 1)[-1], fault)
                return
            results = {
                "studies": state.study_json,
                "series": state.series_json,
                "instances": state.instances_json,
            }[kind]()
            ctype = "application/dicom+json"
            if fault == "malformed":
                self._send(200, ctype, json.dumps(results).encode()[:-7])
            elif fault == "object":
                self._send(200, ctype, json.dumps({"results": results}).encode())
            elif fault == "strings":
                self._send(200, ctype, json.dumps(["a", "b"]).encode())
            elif fault == "repeat":  # the same full page whatever the offset, for ever
                limit = int(parse_qs(parts.query).get("limit", ["1000"])[0])
                self._send(200, ctype, json.dumps((results * limit)[:limit]).encode())
            elif fault == "endless":
                self._endless(ctype, json.dumps(results[0]).encode() + b",")
            elif fault == "drip":
                self._drip(ctype, json.dumps(results).encode())
            else:
                offset = int(parse_qs(parts.query).get("offset", ["0"])[0])
                self._send(200, ctype, json.dumps(results[offset:]).encode())

        def _instance(self, sop: str, fault: str) -> None:
            f, _ = state.by_sop[sop]
            data = f.read_bytes()
            body = (
                f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                + data
                + f"\r\n--{BOUNDARY}--\r\n".encode()
            )
            ctype = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
            if fault == "endless":  # a part that never ends
                self._endless(ctype, b"\0" * 65536, body[: body.index(b"\r\n\r\n") + 4])
            elif fault == "garbage":  # no boundary, ever
                self._endless(ctype, b"\0" * 65536)
            elif fault.startswith("huge-part"):  # huge-part-N: the file padded to N bytes
                self._huge(ctype, sop, int(fault.rsplit("-", 1)[1]))
            elif fault == "drip":
                self._drip(ctype, body)
            elif fault == "huge-declared":
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(5 << 30))
                self.end_headers()
                self.wfile.write(body[:1000])
            else:
                self._send(200, ctype, body)

        def _endless(self, ctype: str, unit: bytes, first: bytes = b"") -> None:
            """A chunked answer (``first``, then ``unit`` again and again) that never ends
            (until the client goes away)."""
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = f"{len(unit):x}\r\n".encode() + unit + b"\r\n"
            try:
                if first:
                    self.wfile.write(f"{len(first):x}\r\n".encode() + first + b"\r\n")
                while not state.stop.is_set():
                    self.wfile.write(chunk * 16)
            except OSError:
                pass

        def _huge(self, ctype: str, sop: str, size: int) -> None:
            """One part of ``size`` bytes made on the fly (the real file, then zeros), sent
            chunked and never whole in memory."""
            data = state.by_sop[sop][0].read_bytes()
            head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            tail = f"\r\n--{BOUNDARY}--\r\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            zeros = b"\0" * (1 << 20)
            left = max(0, size - len(data))
            try:
                for piece in (head, data):
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                while left > 0 and not state.stop.is_set():
                    piece = zeros[: min(left, len(zeros))]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    left -= len(piece)
                self.wfile.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
            except OSError:
                pass

        def _drip(self, ctype: str, body: bytes) -> None:
            """The whole answer announced, then one byte every 0.05 s."""
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    if state.stop.is_set():
                        return
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

    return Handler


@contextmanager
def misbehaving(files: list[Path], **faults: str) -> Iterator[Misbehaving]:
    """Run the server on a free loopback port for the ``with`` block."""
    fail_first = int(faults.pop("fail_first", "0"))
    state = Misbehaving(files, dict(faults), fail_first)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
