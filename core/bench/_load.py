"""The load measurements: a generated CT series in each transfer syntax, loaded in process (time,
peak memory against the volume) and turned into NIfTI by whole processes: ``ownscan export``
beside dcm2niix and SimpleITK. Used by ``ownscan bench`` and ``benchmarks/bench_load.py``.

The series is written uncompressed (:mod:`ownscan.core.bench._ctgen`) and transcoded by real
encoders: gdcmconv (JPEG 2000, JPEG-LS, JPEG lossless process 14, RLE) and OpenJPH's
``ojph_compress`` (HTJ2K, Debian's ``openjph-tools``); every written file is checked to carry
the transfer syntax it was made for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ownscan.core.bench._ctgen import write_ct_series

__all__ = [
    "PROCESS_TOOLS",
    "SYNTAXES",
    "SYNTAX_UIDS",
    "Loaded",
    "Run",
    "ToolFailed",
    "check_syntax",
    "encoder_missing",
    "generate",
    "in_process",
    "ownscan_command",
    "peer_missing",
    "timed",
    "transcode",
    "whole_process",
]

# the rows' ``mode`` for each transfer syntax, and its UID
SYNTAX_UIDS = {
    "uncompressed": "1.2.840.10008.1.2.1",
    "jpeg2000": "1.2.840.10008.1.2.4.90",  # lossless only
    "jpeg-ls": "1.2.840.10008.1.2.4.80",  # lossless
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",  # process 14, selection value 1
    "rle": "1.2.840.10008.1.2.5",
    "htj2k": "1.2.840.10008.1.2.4.201",  # lossless only
}
SYNTAXES = tuple(SYNTAX_UIDS)
_GDCM_FLAGS = {
    "jpeg2000": "--j2k",
    "jpeg-ls": "--jpegls",
    "jpeg-lossless": "--jpeg",
    "rle": "--rle",
}
# the whole-process tools: ownscan's own, then its peers
PROCESS_TOOLS = ("ownscan-export", "dcm2niix", "simpleitk")


class ToolFailed(RuntimeError):
    """A measured program exited with an error (the message says which and why)."""


def generate(folder: Path, slices: int, size: int, cols: int | None = None) -> None:
    """A generated CT series of ``slices`` slices of ``size`` rows (and ``cols`` columns,
    default ``size``) in ``folder``, uncompressed (0.7 x 0.7 x 1 mm)."""
    write_ct_series(
        folder,
        n_slices=slices,
        rows=size,
        cols=cols or size,
        spacing=1.0,
        pixel_spacing=(0.7, 0.7),
        origin=(-180.0, -180.0, -200.0),
        seed=11,
    )


def encoder_missing(syntax: str) -> str:
    """ "" when ``syntax`` can be written here, else what to install."""
    if syntax not in SYNTAX_UIDS:
        raise ValueError(f"unknown transfer syntax {syntax!r}; valid: {', '.join(SYNTAXES)}")
    if syntax in _GDCM_FLAGS and not shutil.which("gdcmconv"):
        return "gdcmconv is not installed (apt install libgdcm-tools)"
    if syntax == "htj2k" and not shutil.which("ojph_compress"):
        return "no HTJ2K encoder: ojph_compress is not installed (apt install openjph-tools)"
    return ""


def _gdcm_file(src: Path, dst: Path, syntax: str) -> None:
    r = subprocess.run(
        ["gdcmconv", _GDCM_FLAGS[syntax], str(src), str(dst)], capture_output=True, text=True
    )
    if r.returncode != 0:
        raise ToolFailed(f"gdcmconv {_GDCM_FLAGS[syntax]} {src}: {(r.stderr or r.stdout).strip()}")


def _htj2k_file(src: Path, dst: Path, tmp: Path) -> None:
    """``src`` (one uncompressed grey frame) as HTJ2K lossless: its stored values through
    ``ojph_compress`` (a raw file in, a J2K codestream out), encapsulated into a copy of the
    dataset."""
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(src)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_compressed or frames != 1 or ds.SamplesPerPixel != 1:
        raise ValueError(f"{src}: only one uncompressed grey frame per file is transcoded")
    stored = ds.pixel_array
    signed = bool(ds.PixelRepresentation)
    if signed and int(stored.min()) < 0:
        # Debian's OpenJPH 0.9 writes negative samples in a form OpenJPEG (pydicom's decoder)
        # reads differently (OpenJPH issue 102): such files would hold other values
        raise ValueError(f"{src}: negative stored values; OpenJPH 0.9 cannot write them portably")
    raw, j2c = tmp / f"{src.name}.raw", tmp / f"{src.name}.j2c"
    stored.astype(np.dtype("<i2" if signed else "<u2")).tofile(raw)
    cmd = ["ojph_compress", "-i", str(raw), "-o", str(j2c), "-reversible", "true"]
    cmd += ["-dims", f"{{{ds.Columns},{ds.Rows}}}", "-num_comps", "1", "-downsamp", "{1,1}"]
    cmd += ["-signed", "true" if signed else "false", "-bit_depth", str(ds.BitsStored)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not j2c.exists():
        raise ToolFailed(f"ojph_compress {src}: {(r.stderr or r.stdout).strip()}")
    ds.PixelData = encapsulate([j2c.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(SYNTAX_UIDS["htj2k"])
    ds.save_as(dst, enforce_file_format=True)
    raw.unlink()
    j2c.unlink()


def transcode(src: Path, dst: Path, syntax: str) -> None:
    """Every file of ``src`` (uncompressed) written into ``dst`` in ``syntax`` (lossless) by
    its real encoder, on all cores, then checked (:func:`check_syntax`).

    Raises
    ------
    ToolFailed
        The encoder is missing or refused a file.
    """
    missing = encoder_missing(syntax)
    if missing:
        raise ToolFailed(missing)
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.iterdir() if p.is_file())
    if syntax == "uncompressed":
        for f in files:
            shutil.copyfile(f, dst / f.name)
        return
    with tempfile.TemporaryDirectory(prefix="ownscan-transcode-") as tmp:

        def one(f: Path) -> None:
            if syntax == "htj2k":
                _htj2k_file(f, dst / f.name, Path(tmp))
            else:
                _gdcm_file(f, dst / f.name, syntax)

        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(one, files))
    check_syntax(dst, syntax)


def check_syntax(folder: Path, syntax: str) -> int:
    """The number of files in ``folder``, each checked to carry ``syntax``'s transfer syntax
    UID (a ValueError names the first that does not)."""
    import pydicom

    want = SYNTAX_UIDS[syntax]
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for f in files:
        got = pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID
        if got != want:
            raise ValueError(f"{f}: transfer syntax {got}, expected {want} ({syntax})")
    return len(files)


@dataclass
class Run:
    """One measured process (or the median of several)."""

    wall: float
    cpu: float  # user + system seconds of the process (and its decoding workers)
    maxrss_mib: float  # peak resident memory of the process itself


def _why(log: str) -> str:
    """The line of a failed program's output that says why (else its last line)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(w in line.lower() for w in ("error", "unsupported", "cannot", "failed")):
            return line[:240]
    return lines[-1][:240] if lines else "no output"


# Runs the measured program for :func:`timed`: a fork of this small process (``python -S``),
# so that the program's peak RSS starts from the helper's few MiB. Linux's ru_maxrss of a
# child spawned by the bench itself would start at the bench's own peak: exec keeps the
# high-water mark of the memory it replaces, which for a vfork (subprocess) is the parent's.
_SPAWN = """
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as exc:
        sys.stderr.write(f"{sys.argv[2]}: {exc}\\n")
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    f.write(f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def timed(cmd: list[str]) -> Run:
    """Run ``cmd``; its wall time, CPU time and peak RSS (``wait4`` of the program alone, run
    by a small helper process: the peak includes the helper's 6-7 MiB copied at the fork).

    Raises
    ------
    ToolFailed
        It exited with an error (the message holds the line of its output that says why).
    """
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "run"
        spawn = [sys.executable, "-S", "-c", _SPAWN, str(report), *cmd]
        code = subprocess.run(spawn, stdout=log, stderr=subprocess.STDOUT).returncode
        if code != 0 or not report.exists():
            log.seek(0)
            why = _why(log.read().decode(errors="replace"))
            raise ToolFailed(f"{Path(cmd[0]).name} exit {code}: {why}")
        wall, cpu, maxrss_kib = (float(v) for v in report.read_text().split())
    return Run(wall, cpu, maxrss_kib / 1024)


def ownscan_command() -> list[str]:
    """``ownscan`` as a user runs it: the script beside this Python (else ``-m``)."""
    script = Path(sys.executable).with_name("ownscan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ownscan.core.cli"]


def peer_missing(tool: str) -> str:
    """ "" when the whole-process ``tool`` can run here, else what to install."""
    if tool == "dcm2niix" and not shutil.which("dcm2niix"):
        return "dcm2niix is not installed (apt install dcm2niix)"
    if tool == "simpleitk" and importlib.util.find_spec("SimpleITK") is None:
        return "SimpleITK is not installed (pip install ownscan[bench])"
    return ""


def _command(tool: str, src: Path, out: Path) -> list[str]:
    """The command that turns the series ``src`` into uncompressed NIfTI in ``out``."""
    if tool == "ownscan-export":
        cmd = ["export", str(src), "--format", "nifti", "--output", str(out), "--uncompressed"]
        return [*ownscan_command(), *cmd]
    if tool == "dcm2niix":
        return ["dcm2niix", "-z", "n", "-f", "%s_%d", "-o", str(out), str(src)]
    if tool == "simpleitk":
        return [sys.executable, "-m", "ownscan.core.bench._sitk", str(src), str(out / "s.nii")]
    raise ValueError(f"unknown tool {tool!r}")


def whole_process(
    src: Path, work: Path, runs: int, tools: Sequence[str] = PROCESS_TOOLS
) -> dict[str, Run | str]:
    """Each of ``tools`` (``ownscan-export``, ``dcm2niix``, ``simpleitk``) turning the series
    ``src`` into uncompressed NIfTI, alternated ``runs`` times: its median run, or why it
    failed (its first failure ends its runs; a run that wrote no NIfTI fails)."""
    done: dict[str, list[Run]] = {tool: [] for tool in tools}
    failed: dict[str, str] = {}
    for r in range(runs):
        for tool in tools:
            if tool in failed:
                continue
            out = work / f"{tool}-{r}"
            out.mkdir(parents=True)
            try:
                run = timed(_command(tool, src, out))
                if not any(out.rglob("*.nii")):
                    raise ToolFailed(f"{tool} wrote no NIfTI")
                done[tool].append(run)
            except ToolFailed as exc:
                failed[tool] = str(exc)
            finally:
                shutil.rmtree(out, ignore_errors=True)
    return {tool: failed.get(tool) or _median(done[tool]) for tool in tools}


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        max(r.maxrss_mib for r in runs),
    )


@dataclass
class Loaded:
    """:func:`in_process`'s measurement of one series."""

    seconds: float  # median of the timed loads
    peak_x_volume: float  # tracemalloc peak of one more load over the volume's bytes
    nbytes: int  # the volume's bytes
    digest: str  # of the voxels: the same for every lossless syntax of one series


def in_process(src: Path, runs: int) -> Loaded:
    """``assemble(src).series[0].load()`` in this process: the median seconds of ``runs``
    loads, then one more under tracemalloc for the peak of Python/numpy memory (a volume
    decoded by worker processes into shared memory, which tracemalloc misses, is added)."""
    from ownscan.core import assemble
    from ownscan.core._pixels import _is_shared

    times = []
    for _ in range(runs):  # timed without tracemalloc, which slows the header parsing 10x
        t = time.perf_counter()
        vol = assemble(src).series[0].load()
        times.append(time.perf_counter() - t)
        del vol
    tracemalloc.start()
    vol = assemble(src).series[0].load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nbytes = vol.nbytes
    if _is_shared(vol.voxels):  # decoded by forked workers into an mmap tracemalloc misses
        peak += nbytes
    voxels = np.ascontiguousarray(vol.voxels)
    digest = hashlib.blake2b(voxels.data, digest_size=16).hexdigest()
    return Loaded(
        statistics.median(times), peak / nbytes, nbytes, f"{voxels.dtype}{voxels.shape}:{digest}"
    )
