"""Helpers for the DICOMweb tests: a real Orthanc process, generated DICOM, the CLI.

``orthanc`` (session): Orthanc on a free loopback port (18100-18199, DICOM 14100-14199), a
temporary storage, HTTP basic authentication on, remote access off, loaded with ``dw_data``
through its REST API (POST /instances). It is stopped by its own pid at the end of the session,
also when a test fails. A missing Orthanc binary or DICOMweb plugin fails the tests (CI
installs the Debian packages ``orthanc`` and ``orthanc-dicomweb``).

``dw_data`` (session): generated CT series (pydicom; one transcoded to JPEG 2000 by gdcmconv,
to check that retrieval does not transcode) and 12 slices of the real head MR.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

PLUGINS = Path("/usr/share/orthanc/plugins")
USER = "alice"
PASSWORD = "Pw-7hq2-zz9-secret"  # distinctive: tests grep outputs and libraries for it
HTTP_PORTS = range(18100, 18200)
DICOM_PORTS = range(14100, 14200)


def free_port(ports: range, taken: set[int]) -> int:
    for port in ports:
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")


_TAKEN: set[int] = set()


@dataclass
class Orthanc:
    """One Orthanc process with a temporary configuration and storage."""

    workdir: Path
    http_port: int = 0
    dicom_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _session(self) -> requests.Session:
        s = requests.Session()
        s.auth = (USER, PASSWORD)
        return s

    @property
    def url(self) -> str:
        """The DICOMweb root."""
        return f"{self.root}/dicom-web"

    def _config(self, lua: str | None) -> Path:
        if not self.http_port:
            self.http_port = free_port(HTTP_PORTS, _TAKEN)
            self.dicom_port = free_port(DICOM_PORTS, _TAKEN)
        cfg = {
            "Name": "ownscan-test",
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "StorageDirectory": str(self.workdir / "db"),
            "IndexDirectory": str(self.workdir / "db"),
            "Plugins": [str(PLUGINS)],
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "MaximumStorageCacheSize": 0,  # serve from the storage folder, which tests alter
        }
        if lua is not None:
            script = self.workdir / "filter.lua"
            script.write_text(lua)
            cfg["LuaScripts"] = [str(script)]
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(cfg, indent=1))
        return path

    def start(self, lua: str | None = None) -> None:
        """Start (again, on the same storage and port) and wait until /system answers."""
        binary = shutil.which("Orthanc")
        if binary is None:
            pytest.fail("Orthanc is not installed (Debian packages orthanc, orthanc-dicomweb)")
        if not (PLUGINS / "libOrthancDicomWeb.so").exists():
            pytest.fail(f"the Orthanc DICOMweb plugin is missing from {PLUGINS}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self._config(lua)
        log = (self.workdir / "orthanc.log").open("ab")
        self.proc = subprocess.Popen([binary, str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / "orthanc.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"Orthanc exited with {self.proc.returncode}:\n{tail}")
            try:
                with self._session() as s:
                    if s.get(f"{self.root}/system", timeout=2).status_code == 200:
                        return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail("Orthanc did not answer /system within 30 s")

    def stop(self) -> None:
        """Stop by pid (SIGTERM, then SIGKILL) and wait until it has exited."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.proc = None

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end by itself (the Lua filter ends it)."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def stored_file(self, sop_instance_uid: str) -> Path:
        """Where Orthanc keeps an instance's file in its storage folder."""
        with self._session() as s:
            found = s.post(f"{self.root}/tools/lookup", data=sop_instance_uid, timeout=30)
            found.raise_for_status()
            oid = next(f["ID"] for f in found.json() if f["Type"] == "Instance")
            info = s.get(f"{self.root}/instances/{oid}/attachments/dicom/info", timeout=30)
            info.raise_for_status()
            uuid = info.json()["Uuid"]
        return self.workdir / "db" / uuid[:2] / uuid[2:4] / uuid

    def upload(self, files: list[Path]) -> None:
        with self._session() as s:
            for f in files:
                r = s.post(f"{self.root}/instances", data=f.read_bytes(), timeout=30)
                r.raise_for_status()
                assert r.json().get("Status") in ("Success", "AlreadyStored"), r.text


class TlsProxy:
    """HTTPS in front of an HTTP server: a TLS-terminating TCP relay (Python's ssl module).

    Debian's Orthanc 1.10.1 crashes (SIGSEGV) on its first HTTPS connection, so the TLS tests
    put this relay, with a self-signed certificate made by openssl, in front of it. What is
    tested is the client's certificate verification, which this is a real TLS server for.
    """

    def __init__(self, cert: Path, key: Path, target_port: int) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.target_port = target_port
        self.port = free_port(HTTP_PORTS, _TAKEN)
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(30)
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):  # the client refused our certificate: expected
            raw.close()
            return
        up = socket.create_connection(("127.0.0.1", self.target_port))

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        t = threading.Thread(target=pump, args=(up, tls), daemon=True)
        t.start()
        pump(tls, up)
        t.join(30)
        tls.close()
        up.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5)


def kill_after_lua(n: int) -> str:
    """A Lua request filter that ends Orthanc (os.exit) when the (n+1)-th WADO-RS instance
    request arrives: a server that stops in the middle of a transfer, deterministically."""
    return f"""
count = 0
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  local wado = string.find(uri, "/dicom-web/studies/", 1, true)
  if wado and string.find(uri, "/instances/", 1, true) then
    count = count + 1
    if count > {n} then
      os.exit(3)
    end
  end
  return true
end
"""


# -- generated data ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DwData:
    """What the test server holds, as files on disk (the direct-import reference)."""

    root: Path
    ct: Path  # study A, patient P1, 2024-03-05: two series
    ct_j2k: Path  # study A, JPEG 2000 lossless copy of a third series
    mr: Path  # study B, the real MR (12 slices), patient "02", 2013-07-17
    older: Path  # study C, patient P1, 2019-06-01
    study_a: str
    study_c: str

    def all_files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.dcm"))


def write_ct_series(
    folder: Path,
    n: int,
    *,
    study: str,
    patient: tuple[str, str] = ("Doe^Jane", "P1"),
    date: str = "20240305",
    series_number: int = 2,
    description: str = "Axial",
    size: int = 24,
    seed: int = 0,
) -> list[Path]:
    """``n`` axial CT slices (int16 with a rescale, 2.5 mm apart) written by pydicom."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    series = generate_uid()
    frame_of_reference = generate_uid()
    out = []
    for i in range(n):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID = patient
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "F"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyDate = ds.SeriesDate = date
        ds.StudyTime = "101500"
        ds.StudyDescription = "CT Thorax"
        ds.SeriesDescription = description
        ds.AccessionNumber = "A1"
        ds.StudyID = "1"
        ds.Modality = "CT"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = i + 1
        ds.FrameOfReferenceUID = frame_of_reference
        ds.ImagePositionPatient = [-30.0, -30.0, -100.0 + 2.5 * i]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.8, 0.8]
        ds.SliceThickness = 2.5
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        pixels = rng.integers(0, 2500, (size, size), dtype=np.int16)
        pixels[i % size, :] = 3000  # a bright line that moves: slice order is visible
        ds.PixelData = pixels.tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = folder / f"IM{i + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def run_ownscan(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``ownscan`` command line in a child process (no terminal attached)."""

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OWNSCAN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ownscan.core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


CREDS = {"OWNSCAN_DICOMWEB_USER": USER, "OWNSCAN_DICOMWEB_PASSWORD": PASSWORD}
