"""A real ``ownscan serve`` in a subprocess, for the HTTP-level tests (and the page's tests).

``ServeProcess.start(library, *extra)`` runs ``python -m ownscan.core.cli serve --port 0
--no-browser --library LIB``, reads the first stdout line (``ownscan serve: open URL``) and
gives the base URL, the token and an ``httpx.Client`` that already passed the door. ``stop()``
sends SIGINT (Ctrl-C) and returns the exit status; stderr (the server's log) is kept in a file
for tests that read it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# tests/core holds ctgen (realistic generated CT); this folder's tests reach it through here
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctgen import write_ct_series

__all__ = [
    "MINI_PDF",
    "STATE",
    "ServeProcess",
    "make_ct_zip",
    "served_import",
    "unshuffle",
    "write_ct_series",
    "write_report_sr",
]

STATE = {"X-Ownscan": "1"}  # the header every state-changing request needs
_URL = re.compile(r"^ownscan serve: open (https?)://([^/]+)/\?token=([A-Za-z0-9_\-]+)$")


@dataclass
class ServeProcess:
    """A running ``ownscan serve``."""

    proc: subprocess.Popen[str]
    base: str
    token: str
    stderr_path: Path
    lines: list[str] = field(default_factory=list)  # stdout lines read so far
    _clients: list[httpx.Client] = field(default_factory=list)

    @classmethod
    def start(cls, library: Path, *extra: str, log_dir: Path | None = None) -> ServeProcess:
        log_dir = log_dir or library.parent
        stderr_path = log_dir / f"serve-{os.getpid()}-{len(list(log_dir.glob('serve-*')))}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "ownscan.core.cli", "serve", "--port", "0", "--no-browser"]
        cmd += ["--library", str(library), *extra]
        err = stderr_path.open("w")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        err.close()
        assert proc.stdout is not None
        first = proc.stdout.readline().rstrip("\n")
        m = _URL.match(first)
        if m is None:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            raise AssertionError(
                f"first line of ownscan serve: {first!r}; stderr: {stderr_path.read_text()}"
            )
        scheme, hostport, token = m.groups()
        return cls(proc, f"{scheme}://{hostport}", token, stderr_path, [first])

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    def read_line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().rstrip("\n")
        self.lines.append(line)
        return line

    def client(self, signed_in: bool = True, **kwargs: Any) -> httpx.Client:
        """An HTTP client; ``signed_in``: it went through ``/?token=`` and holds the cookie."""
        c = httpx.Client(base_url=self.base, timeout=120.0, **kwargs)
        self._clients.append(c)
        if signed_in:
            r = c.get(f"/?token={self.token}", follow_redirects=False)
            assert r.status_code == 303, r.text
        return c

    def stop(self, timeout: float = 60.0) -> int:
        """Ctrl-C; the exit status."""
        for c in self._clients:
            c.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if self.proc.stdout is not None:
                    self.proc.stdout.close()
                raise AssertionError("ownscan serve did not stop on SIGINT") from None
        if self.proc.stdout is not None:
            self.lines += self.proc.stdout.read().splitlines()
            self.proc.stdout.close()
        return int(self.proc.returncode)

    @property
    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def served_import(root: Path) -> Iterator[ServeProcess]:
    """``ownscan import`` of ``root / "src"`` into ``root / "library"``, then ``ownscan serve``
    on that library; stopped with Ctrl-C after, which must exit 0."""
    exe = Path(sys.executable).with_name("ownscan")
    cmd = [str(exe), "import", str(root / "src"), "--library", str(root / "library")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    server = ServeProcess.start(root / "library")
    yield server
    assert server.stop() == 0, server.log


def unshuffle(data: bytes, dtype: str, encoding: str) -> Any:
    """Undo the byte shuffle (what the page does in JavaScript)."""
    import numpy as np

    dt = np.dtype(dtype).newbyteorder("<")
    if encoding == "raw":
        return np.frombuffer(data, dt)
    size = {"shuffle16": 2, "shuffle32": 4}[encoding]
    assert dt.itemsize == size and len(data) % size == 0
    planes = np.frombuffer(data, np.uint8).reshape(size, -1)
    return np.ascontiguousarray(planes.T).view(dt).reshape(-1)


def make_ct_zip(folder: Path, out: Path) -> None:
    """A portal-style zip of ``folder`` made by Info-ZIP's ``zip`` (as the zip tests do)."""
    import shutil

    exe = shutil.which("zip")
    assert exe is not None, "Info-ZIP zip is not installed (CI installs it)"
    subprocess.run([exe, "-q", "-r", str(out), "."], cwd=folder, check=True)
    assert zipfile.is_zipfile(out)


BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
MINI_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def write_report_sr(path: Path, like: Path, text: str) -> None:
    """A Basic Text SR in the study (and for the patient) of the DICOM file ``like``."""
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    src = pydicom.dcmread(like, stop_before_pixels=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = BASIC_TEXT_SR, meta.MediaStorageSOPInstanceUID
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate"):
        setattr(ds, key, getattr(src, key))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = src.StudyInstanceUID, generate_uid()
    ds.StudyTime, ds.StudyID, ds.AccessionNumber = src.get("StudyTime", ""), "1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 99, 1
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"

    def code(value: str, meaning: str) -> Sequence:
        c = Dataset()
        c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, "DCM", meaning
        return Sequence([c])

    ds.ConceptNameCodeSequence = code("18748-4", "Diagnostic Imaging Report")
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = code("121071", "Finding")
    item.TextValue = text
    ds.ContentSequence = Sequence([item])
    ds.save_as(path, enforce_file_format=True)
