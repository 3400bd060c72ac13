"""The transport under the importer: multipart bodies, the password prompt, TLS, credentials."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_server import CREDS, PASSWORD, USER, DwData, Orthanc, TlsProxy, run_ownscan

from ownscan.core.dicom import NotDicom, ReadProblem
from ownscan.core.errors import UsageError
from ownscan.plugins._dicomweb import (
    ACCEPT_DICOM_ANY_SYNTAX,
    Credentials,
    MultipartError,
    split_multipart,
)
from ownscan.plugins.dicomweb import connect, media_storage_sop_instance_uid


def _instance_url(orthanc: Orthanc, f: Path) -> str:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    return (
        f"{orthanc.url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def test_split_multipart_on_real_wado_responses(orthanc: Orthanc, dw_data: DwData):
    f = sorted(dw_data.ct_j2k.glob("*.dcm"))[0]
    r = requests.get(
        _instance_url(orthanc, f),
        auth=(USER, PASSWORD),
        headers={"Accept": ACCEPT_DICOM_ANY_SYNTAX, "Accept-Encoding": "identity"},
        timeout=30,
    )
    assert r.status_code == 200
    ctype, body = r.headers["Content-Type"], r.content
    assert ctype.startswith("multipart/related")
    assert split_multipart(ctype, body, "u") == f.read_bytes()  # JPEG 2000, not transcoded

    # cut anywhere: a truncated answer is retryable, never taken for a shorter file
    for cut in (10, len(body) // 2, len(body) - 5):
        with pytest.raises(MultipartError) as err:
            split_multipart(ctype, body[:cut], "u")
        assert err.value.retryable, cut
    # not DICOM, or two parts for one instance: refused for good
    with pytest.raises(MultipartError, match="expected multipart/related DICOM") as err:
        split_multipart("application/dicom+json", b"[]", "u")
    assert not err.value.retryable
    boundary = ctype.split("boundary=")[1].strip('"').encode()
    part = body[body.find(b"--" + boundary) : body.rfind(b"\r\n--" + boundary + b"--")]
    two = part + b"\r\n" + part + b"\r\n--" + boundary + b"--\r\n"
    with pytest.raises(MultipartError, match="expected one DICOM part for one instance, got 2"):
        split_multipart(ctype, two, "u")
    # a bare application/dicom body (some servers) is accepted as it is
    assert split_multipart("application/dicom", f.read_bytes(), "u") == f.read_bytes()


def test_credentials_from_environment_and_repr_hides_the_secret():
    basic = Credentials.from_environment(CREDS)
    assert basic.kind == "basic" and basic.user == USER
    token = Credentials.from_environment({"OWNSCAN_DICOMWEB_TOKEN": PASSWORD, **CREDS})
    assert token.kind == "bearer"  # the token wins over user/password
    for c in (basic, token):
        assert PASSWORD not in repr(c) and PASSWORD not in str(c)
    s = requests.Session()
    token.apply(s)
    assert s.headers["Authorization"] == f"Bearer {PASSWORD}"
    with pytest.raises(UsageError, match="OWNSCAN_DICOMWEB_PASSWORD is set but"):
        Credentials.from_environment({"OWNSCAN_DICOMWEB_PASSWORD": PASSWORD})
    assert Credentials.from_environment({}).kind == "none"


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} in {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"ended without {needle!r}: {bytes(seen)!r}")
            seen += chunk


def test_password_prompt_on_a_terminal(orthanc: Orthanc):
    """No credentials in the environment and a terminal attached: the server's 401 leads to a
    prompt; the password typed is not echoed and the search works."""
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWNSCAN_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ownscan.core.cli", "search", orthanc.url],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        close_fds=True,
    )
    os.close(child)
    seen = bytearray()
    try:
        _read_until(main, b"DICOMweb user: ", seen)
        os.write(main, f"{USER}\n".encode())
        _read_until(main, b"DICOMweb password: ", seen)
        os.write(main, f"{PASSWORD}\n".encode())
        _read_until(main, b"studies on", seen)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    text = bytes(seen).decode(errors="replace")
    assert "asks for a user name and password" in text
    assert "Doe^Jane" in text and "02" in text  # the table came
    assert PASSWORD not in text  # getpass does not echo


# -- TLS --------------------------------------------------------------------------------------
@pytest.fixture
def tls_url(tmp_path: Path, orthanc: Orthanc) -> Iterator[str]:
    """The session's Orthanc behind HTTPS with a self-signed certificate made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (Debian package openssl)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    proxy = TlsProxy(cert, key, orthanc.http_port)
    try:
        yield f"https://127.0.0.1:{proxy.port}/dicom-web"
    finally:
        proxy.close()


def test_tls_is_verified_and_insecure_is_explicit(tmp_path: Path, tls_url: str, dw_data):
    r = run_ownscan("search", tls_url, env=CREDS)
    assert r.returncode == 2
    assert "TLS certificate verification failed" in r.stderr
    assert "--insecure" in r.stderr and "Traceback" not in r.stderr

    lib = tmp_path / "lib"
    r = run_ownscan(
        "import", tls_url, "--library", lib, "--insecure", "--study", dw_data.study_c, env=CREDS
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS certificate verification is OFF" in r.stderr  # said once, visibly
    assert r.stderr.count("verification is OFF") == 1
    assert "InsecureRequestWarning" not in r.stderr
    assert "4 imported" in r.stdout


def test_qido_pages_with_limit_and_offset(orthanc: Orthanc, dw_data: DwData, monkeypatch):
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    f = sorted((dw_data.ct / "axial").glob("*.dcm"))[0]
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    path = f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances"
    with connect(orthanc.url) as conn:
        whole = conn.qido(path)
        paged = conn.qido(path, page_size=5)  # 5 + 5 + 2
        exact = conn.qido(path, page_size=4)  # 4 + 4 + 4 + an empty page
    sops = [d["00080018"]["Value"][0] for d in whole]
    assert len(sops) == 12 == len(set(sops))
    assert [d["00080018"]["Value"][0] for d in paged] == sops
    assert [d["00080018"]["Value"][0] for d in exact] == sops


def test_media_storage_sop_instance_uid_matches_pydicom(
    pydicom_files: dict[str, Path], dw_data: DwData
):
    files = [*pydicom_files.values(), *dw_data.all_files()]
    assert len(files) > 40
    for f in files:
        meta = pydicom.dcmread(f, stop_before_pixels=True).file_meta
        assert media_storage_sop_instance_uid(f.read_bytes()) == meta.MediaStorageSOPInstanceUID
    with pytest.raises(NotDicom, match="no DICM marker"):
        media_storage_sop_instance_uid(b"<html>502 Bad Gateway</html>")
    head = files[0].read_bytes()
    assert head[132:136] == b"\x02\x00\x00\x00"  # (0002,0000), 4 bytes: a meta group alone
    with pytest.raises(ReadProblem, match="without Media Storage SOP Instance UID"):
        media_storage_sop_instance_uid(head[:144])
    with pytest.raises(ReadProblem, match="truncated in the file meta information"):
        media_storage_sop_instance_uid(head[:140])
