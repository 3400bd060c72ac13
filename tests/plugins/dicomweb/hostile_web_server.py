"""More ways for a DICOMweb server to misbehave, on top of misbehaving_server.py (the second
hostile sweep): WADO-RS answers of the wrong content type (HTML, JSON, plain DICOM without
multipart), multipart that is cut short, empty, never closed, with a quoted or a 300-character
boundary, a part without headers or with headers that never end, a part that is not DICOM;
QIDO-RS answers whose DICOM JSON has values of the wrong types or counts no one could hold.
Faults are set per kind of request as in misbehaving_server (``instance=..., studies=...``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from misbehaving_server import BOUNDARY, Misbehaving, _handler, _kind

__all__ = ["ESCAPES", "INSTANCE_FAULTS", "QIDO_FAULTS", "hostile_web"]

INSTANCE_FAULTS = (
    "html",
    "json",
    "bare-dicom",
    "cut-mid-part",
    "no-closing-boundary",
    "empty-multipart",
    "quoted-boundary",
    "long-boundary",
    "part-without-headers",
    "endless-part-headers",
    "not-dicom-part",
    "no-content-type",
)
QIDO_FAULTS = (
    "wrong-types",
    "huge-counts",
    "null-values",
    "nested-garbage",
    "one-bad-uid",
    "escapes",
)
ESCAPES = "Evil\x1b]0;owned\x07\x1b[2J\u202e<script>x</script>\r\n"


def _hostile_handler(state: Misbehaving) -> type:
    base = _handler(state)

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            kind = _kind(parts.path)
            fault = state.faults.get(kind, "")
            if kind == "instance" and fault in INSTANCE_FAULTS:
                self._hostile_instance(parts.path.rsplit("/", 1)[-1], fault)
                return
            if kind != "instance" and fault in QIDO_FAULTS:
                self._hostile_qido(kind, fault)
                return
            super().do_GET()

        def _hostile_qido(self, kind: str, fault: str) -> None:
            results = {
                "studies": state.study_json,
                "series": state.series_json,
                "instances": state.instances_json,
            }[kind]()
            if fault == "one-bad-uid":  # beside the good results, one whose UID is a path
                tag = {"studies": "0020000D", "series": "0020000E", "instances": "00080018"}[kind]
                bad = json.loads(json.dumps(results[0]))
                bad[tag] = {"vr": "UI", "Value": ["1.2/../../../admin?x=1"]}
                results = [bad, *results]
            if fault == "escapes":  # text a terminal would obey, in every text a listing shows
                for r in results:
                    r["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": ESCAPES}]}
                    r["00100020"] = {"vr": "LO", "Value": [ESCAPES]}
                    r["00081030"] = {"vr": "LO", "Value": [ESCAPES]}
                    r["0008103E"] = {"vr": "LO", "Value": [ESCAPES]}
                    r["00080061"] = {"vr": "CS", "Value": [ESCAPES]}
                    r["00080060"] = {"vr": "CS", "Value": [ESCAPES]}
            for r in results:
                for tag, element in r.items():
                    if fault == "wrong-types":
                        element["Value"] = [{"a": 1}, 3.5e300, None, ["x"]]
                    elif fault == "huge-counts" and tag in ("00201206", "00201208", "00201209"):
                        element["Value"] = [10**30]
                    elif fault == "null-values":
                        element["Value"] = None
                    elif fault == "nested-garbage":
                        element["vr"] = 7
                        element["Value"] = "not a list"
            self._send(200, "application/dicom+json", json.dumps(results).encode())

        def _hostile_instance(self, sop: str, fault: str) -> None:
            data = state.by_sop[sop][0].read_bytes()
            related = 'multipart/related; type="application/dicom"; boundary='
            head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            tail = f"\r\n--{BOUNDARY}--\r\n".encode()
            if fault == "html":
                self._send(200, "text/html", b"<html><body>Session expired</body></html>")
            elif fault == "json":
                self._send(200, "application/json", b'{"error": "no such instance"}')
            elif fault == "bare-dicom":  # the instance itself, not in multipart
                self._send(200, "application/dicom", data)
            elif fault == "cut-mid-part":  # a Content-Length the body never reaches
                body = head + data
                self.send_response(200)
                self.send_header("Content-Type", related + BOUNDARY)
                self.send_header("Content-Length", str(len(body) + len(tail)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif fault == "no-closing-boundary":
                self._send(200, related + BOUNDARY, head + data[: len(data) // 2])
            elif fault == "empty-multipart":
                self._send(200, related + BOUNDARY, f"--{BOUNDARY}--\r\n".encode())
            elif fault == "quoted-boundary":
                self._send(200, f'{related}"{BOUNDARY}"', head + data + tail)
            elif fault == "long-boundary":
                b = "b" * 300
                body = f"--{b}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                self._send(200, related + b, body + data + f"\r\n--{b}--\r\n".encode())
            elif fault == "part-without-headers":
                self._send(200, related + BOUNDARY, f"--{BOUNDARY}\r\n\r\n".encode() + data + tail)
            elif fault == "endless-part-headers":  # 32 MiB of one header line
                body = f"--{BOUNDARY}\r\nX-Pad: ".encode() + b"a" * (32 << 20)
                self._send(200, related + BOUNDARY, body)
            elif fault == "not-dicom-part":
                self._send(
                    200,
                    related + BOUNDARY,
                    head + b"<html>not an image</html>" * 10 + tail,
                )
            elif fault == "no-content-type":
                self.send_response(200)
                self.send_header("Content-Length", str(len(head + data + tail)))
                self.end_headers()
                self.wfile.write(head + data + tail)

    return Handler


@contextmanager
def hostile_web(files: list[Path], **faults: str) -> Iterator[Misbehaving]:
    """Run the server on a free loopback port for the ``with`` block."""
    state = Misbehaving(files, dict(faults))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _hostile_handler(state))
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
