"""The ``ownscan serve`` command: TLS with a self-signed certificate, --token-file, Ctrl-C, and
--lan's address and QR code."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
from pathlib import Path

import pytest
from serve_process import ServeProcess

from ownscan.core.library import open_library


@pytest.fixture
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "library"
    open_library(lib).close()
    return lib


def _server_certificate_sha256(base: str) -> str:
    host, port = base.split("://")[1].rsplit(":", 1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we check the fingerprint instead, as the user would
    with (
        socket.create_connection((host, int(port))) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def test_tls_self_signed(library: Path) -> None:
    s = ServeProcess.start(library, "--tls-self-signed")
    try:
        assert s.base.startswith("https://127.0.0.1:")
        line = s.read_line()
        m = re.fullmatch(
            r"ownscan serve: certificate SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})",
            line,
        )
        assert m, line
        assert _server_certificate_sha256(s.base) == m.group(1)
        c = s.client(signed_in=False, verify=False)
        assert c.get("/api/library").status_code == 401
        r = c.get(f"/?token={s.token}", follow_redirects=False)
        assert r.status_code == 303 and "Secure" in [
            p.strip() for p in r.headers["set-cookie"].split(";")
        ]
        assert c.get("/api/library").json() == {"patients": [], "documents": []}
        key = library / "serve" / "tls" / "key.pem"
        assert key.stat().st_mode & 0o777 == 0o600
    finally:
        assert s.stop() == 0, s.log
    # the certificate is kept: the fingerprint the user checked once stays the same
    again = ServeProcess.start(library, "--tls-self-signed")
    try:
        assert again.read_line() == line
    finally:
        assert again.stop() == 0


def test_token_file(library: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    first = ServeProcess.start(library, "--token-file", str(token_file))
    assert first.stop() == 0
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.read_text().strip() == first.token and len(first.token) >= 22
    second = ServeProcess.start(library, "--token-file", str(token_file))
    assert second.token == first.token
    assert second.client().get("/api/library").status_code == 200
    assert second.stop() == 0
    os.chmod(token_file, 0o644)
    with pytest.raises(AssertionError, match="others may read the token file"):
        ServeProcess.start(library, "--token-file", str(token_file))


def test_ctrl_c_stops_cleanly(library: Path) -> None:
    s = ServeProcess.start(library)
    s.client().get("/api/library").raise_for_status()
    assert s.stop(timeout=30) == 0
    assert "ownscan serve: stopped" in s.log
    assert "Traceback" not in s.log
    # Ctrl-C at once after the first line, while the server may still be starting
    early = ServeProcess.start(library)
    assert early.stop(timeout=30) == 0, early.log


def test_lan_prints_the_address_and_a_qr_code(library: Path) -> None:
    from ownscan.core.commands.serve import lan_address

    try:
        address = lan_address()
    except OSError as exc:  # a machine without a network: the command must say so
        pytest.fail(f"this test needs a local network address: {exc}")
    s = ServeProcess.start(library, "--lan")
    try:
        assert s.base.startswith(f"http://{address}:")
        line = s.read_line()
        assert line.startswith(f"ownscan serve: on your network at {address}:")
        qr = [s.read_line() for _ in range(8)]
        assert all(set(row) <= set(" █▀▄") and row for row in qr), qr
        assert s.client().get("/api/library").status_code == 200
    finally:
        assert s.stop() == 0, s.log
