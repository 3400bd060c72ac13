"""``ownscan bench``: the measurements as one suite, its rows, and the JSON / Markdown / plots.

Every row is one measurement of one tool: ``part`` (``load``: a generated series in each
transfer syntax loaded in process, and to NIfTI by whole processes beside dcm2niix and
SimpleITK; ``import``: ``ownscan import`` into a new library beside ``cp -r``; ``render``: ms
per frame; ``upload``: ms to put a volume into GL textures; ``first-picture`` /
``first-frame``: ms from a loaded volume to the first GL picture (the quick pass the viewer
shows first) and to the first full frame after it; ``first-frame-only``: to the full frame
drawn at once, as ``ownscan render`` draws it; ``first-frame-after-load``: the whole of
``ownscan render``'s path from the written series to that frame, the part after its load
ended (the load alone measured alternately in the same run); ``memory``: peak RSS
of ``ownscan render`` of the written series in a child process), the volume, the image
size, the mode (for ``load`` the transfer syntax). Rows of the same part, volume, image and
mode form a group; the peers are the tools that are not ownscan's (VTK's mappers, vispy,
dcm2niix, SimpleITK, ``cp -r``); each row's ``ratio`` is the best (smallest) peer value
divided by the row's (above 1: better than the best peer), None when no peer ran. A volume
that does not fit this machine's free memory is skipped with a note, before anything is
allocated.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ownscan.core.bench._import import contenders, interleaved, source, warm
from ownscan.core.bench._load import (
    PROCESS_TOOLS,
    SYNTAXES,
    ToolFailed,
    generate,
    in_process,
    peer_missing,
    transcode,
    whole_process,
)
from ownscan.core.bench._memory import render_peak, view_peak, x_display
from ownscan.core.bench._render import (
    MODES,
    bench_volume,
    first_frame_ms,
    measure_render,
    render_path_ms,
    upload_ms,
    vtk_available,
)
from ownscan.core.bench._vispy import vispy_available
from ownscan.core.errors import OwnscanError
from ownscan.core.volume import Volume

FULL_SIZES = ("512x512x300", "512x512x1000", "512x512x2000", "1024x1024x1000")
FULL_IMAGES = ((512, 512), (1024, 1024), (1920, 1080))
QUICK_SIZES = ("128x128x64", "256x256x128")
QUICK_IMAGES = ((256, 256),)
# --quick: the uncompressed path and the newest codec (OpenJPH's encoder, OpenJPEG's decoder)
QUICK_SYNTAXES = ("uncompressed", "htj2k")
# the many-small-files import of benchmarks/bench_import.py (a CD holds thousands of files)
FULL_IMPORT_FILES = 10_000
PARTS = ("load", "import", "render", "upload", "first-frame", "memory")
# host bytes a render may take per byte of volume (llvmpipe: volume, its texture, the padded
# gradient texture, VTK's own copies), plus python, GL and VTK themselves
# the rows of the first-frame part: (part, key of first_frame_ms, the name in the note)
FIRST_FRAME_ROWS = (
    ("first-picture", "first_picture", "first picture (quick pass)"),
    ("first-frame", "first_full_frame", "first full frame"),
    ("first-frame-only", "full_frame_only", "first frame without the quick pass"),
)
MEMORY_FACTOR = 8
MEMORY_OVERHEAD = 1 << 30


@dataclass
class Row:
    """One measurement (see the module's docstring)."""

    part: str
    volume: str
    image: str
    mode: str
    tool: str
    value: (
        float | None
    )  # ms (load, import, render, upload, first-*), MiB (memory); None: not measured
    unit: str
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _voxels(spec: str) -> int:
    nx, ny, nz = (int(v) for v in spec.lower().split("x"))
    return nx * ny * nz


def available_bytes() -> int:
    """Memory this machine can give now (MemAvailable; total physical memory elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def fits_memory(spec: str, available: int | None = None) -> str:
    """ "" when the int16 volume ``spec`` can be measured here, else why not."""
    need = MEMORY_FACTOR * 2 * _voxels(spec) + MEMORY_OVERHEAD
    free = available_bytes() if available is None else available
    if need <= free:
        return ""
    return f"skipped: needs about {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB available"


def with_ratios(rows: Sequence[Row]) -> list[Row]:
    """``rows`` with ``ratio`` set: best peer value / the row's value, per group."""
    best: dict[tuple[str, str, str, str], float] = {}
    for r in rows:
        if not r.tool.startswith("ownscan") and r.value:
            key = (r.part, r.volume, r.image, r.mode)
            best[key] = min(best.get(key, r.value), r.value)
    for r in rows:
        peer = best.get((r.part, r.volume, r.image, r.mode))
        r.ratio = peer / r.value if peer and r.value else None
    return list(rows)


def run_suite(
    sizes: Sequence[str],
    images: Sequence[tuple[int, int]],
    modes: Sequence[str] = MODES,
    repeat: int = 3,
    parts: Sequence[str] = PARTS,
    progress: Callable[[str], None] | None = None,
    available: int | None = None,
    syntaxes: Sequence[str] = SYNTAXES,
    import_files: int = 0,
    series_sizes: Sequence[str] | None = None,
) -> list[Row]:
    """Measure ``parts`` on the generated CT of each of ``sizes`` (``"NXxNYxNZ"``) at each
    image size, the ``load`` part in each of ``syntaxes``; a size that does not fit gets one
    skipped row per part. ``import_files``: the ``import`` part also takes that many small
    instances (``benchmarks/bench_import.py``'s source; 0: not). ``series_sizes``: the sizes
    the ``load`` and ``import`` parts measure (None: all; ``--quick``: the first)."""
    say = progress or (lambda line: None)
    rows: list[Row] = []
    label = [f"{w}x{h}" for w, h in images]
    fit = [s for s in sizes if not fits_memory(s, available)]
    for s in sizes:
        why = fits_memory(s, available)
        if why:
            rows.extend(Row(p, s, "", "", "ownscan-gl", None, "", note=why) for p in parts)
            say(f"{s}: {why}")
    small_image = [min(images, key=lambda wh: wh[0] * wh[1])]
    for spec in fit:
        on_series = {"load", "import"} & set(parts)
        if series_sizes is not None and spec not in series_sizes:
            on_series = set()
        if on_series or "memory" in parts:  # one written series for the three parts
            root = Path(tempfile.mkdtemp(prefix="ownscan-bench-series-"))
            try:
                nx, ny, nz = (int(v) for v in spec.split("x"))
                generate(root / "raw", nz, ny, nx)
                if "load" in on_series:
                    rows.extend(load_rows(spec, root, repeat, say, syntaxes))
                if "import" in on_series:
                    rows.extend(import_rows(spec, "series", root / "raw", root, repeat, say))
                if "memory" in parts:
                    rows.extend(memory_rows(spec, root / "raw", small_image[0], say))
            finally:
                shutil.rmtree(root, ignore_errors=True)
    if "import" in parts and import_files > 0:
        root = Path(tempfile.mkdtemp(prefix="ownscan-bench-import-"))
        try:
            source(root / "src", import_files, say)
            many = f"64x64x{import_files}"  # bench_import.py's 64x64 slices, 10 series
            rows.extend(import_rows(many, "files", root / "src", root, repeat, say))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if "render" in parts and fit:
        # the array renderer takes every sample: only on volumes up to 16M voxels, smallest image
        cpu_specs = {s for s in fit if _voxels(s) <= 1 << 24}
        results = measure_render(
            [(s, functools.partial(bench_volume, s)) for s in fit],
            list(images),
            modes,
            repeat,
            cpu_sizes=small_image if cpu_specs else (),
            report=say,
        )
        for (spec, (w, h), mode), r in results.items():
            for tool, ms in r.items():
                if tool == "array" and spec not in cpu_specs:
                    continue
                name = {"gl": "ownscan-gl", "array": "ownscan-array"}.get(tool, tool)
                rows.append(Row("render", spec, f"{w}x{h}", mode, name, ms, "ms"))
        if not vtk_available() or not vispy_available():
            say("render: a peer (VTK, vispy) is not installed: pip install ownscan[bench]")
    for spec in fit if {"upload", "first-frame"} & set(parts) else []:
        volume = bench_volume(spec)
        if "upload" in parts:
            rows.extend(upload_rows(spec, volume, say))
        if "first-frame" in parts:
            for mode in ("mip", "dvr"):
                # each run in fresh renderers on a new Volume: ``repeat`` runs, the medians
                runs = [first_frame_ms(volume, mode, images[0]) for _ in range(max(1, repeat))]
                first = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                for part, key, name in FIRST_FRAME_ROWS:
                    extra = {"upload_ms": first["upload"], "runs_ms": [r[key] for r in runs]}
                    row = Row(part, spec, label[0], mode, "ownscan-gl", first[key], "ms")
                    rows.append(replace(row, extra=extra, note=name))
                    say(f"{spec} {name} {mode}: {first[key]:.0f} ms (median of {len(runs)})")
        del volume
        if "first-frame" in parts:
            rows.extend(render_path_rows(spec, images[0], repeat, say))
    return with_ratios(rows)


_AFTER_LOAD = "first frame after the load: ownscan render's path from the files, after its load"


def render_path_rows(
    spec: str, image: tuple[int, int], repeat: int, say: Callable[[str], None]
) -> list[Row]:
    """The ``first-frame-after-load`` rows of one size: the generated series written, then
    :func:`~ownscan.core.bench._render.render_path_ms` for mip and dvr; the value is the
    median over the runs of the path's time after its load ended (the medians of the rest:
    the load alone, the whole path, the path with the renderer made after the load, in the
    extra)."""
    root = Path(tempfile.mkdtemp(prefix="ownscan-bench-path-"))
    rows = []
    try:
        nx, ny, nz = (int(v) for v in spec.split("x"))
        generate(root / "raw", nz, ny, nx)
        for mode in ("mip", "dvr"):
            runs = render_path_ms(root / "raw", mode, image, repeat)
            med = {k: statistics.median(v) for k, v in runs.items()}
            extra = {
                "runs_ms": runs["after"],
                **{f"{k}_ms": v for k, v in med.items()},
                **{f"{k}_runs_ms": v for k, v in runs.items() if k != "after"},
            }
            value = med["after"]
            label = f"{image[0]}x{image[1]}"
            part = "first-frame-after-load"
            rows.append(Row(part, spec, label, mode, "ownscan-gl", value, "ms", None, extra))
            rows[-1].note = _AFTER_LOAD
            say(
                f"{spec} first frame after the load {mode}: {value:.0f} ms (load + first "
                f"frame {med['whole']:.0f}; the load alone {med['load']:.0f}; the renderer made "
                f"after the load: {med['serial_after']:.0f} after it, {med['serial']:.0f} in "
                f"all; medians of {len(runs['load'])})"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


_UPLOAD_NOTES = {
    "fresh": "a volume never drawn: bounds made with the storage, then quantised and written",
    "prepared": "its preparation cached: the textures alone",
}


def upload_rows(spec: str, volume: Volume, say: Callable[[str], None]) -> list[Row]:
    """The ``upload`` part for one size: ms to put ``volume`` into GL textures, fresh and with
    its preparation cached (:func:`~ownscan.core.bench._render.upload_ms`); no peer."""
    rows = []
    for kind, ms in upload_ms(volume).items():
        extra = {"mib_per_s": volume.nbytes / 2**20 / (ms / 1000.0)}
        rows.append(Row("upload", spec, "", kind, "ownscan-gl", ms, "ms", None, extra))
        rows[-1].note = _UPLOAD_NOTES[kind]
        say(f"{spec} upload {kind}: {ms:.0f} ms")
    return rows


def _memory_row(spec: str, image: str, mode: str, tool: str, m: dict[str, Any], note: str) -> Row:
    """A ``memory`` row from a child's measurement (``error``: a row without a value)."""
    if "error" in m:
        return Row("memory", spec, image, mode, tool, None, "MiB", note=m["error"])
    extra = {
        "x_volume": m["peak_mib"] / m["volume_mib"],
        "x_volume_above_base": (m["peak_mib"] - m["base_mib"]) / m["volume_mib"],
        "base_mib": m["base_mib"],
        "volume_mib": m["volume_mib"],
    }
    return Row("memory", spec, image, mode, tool, m["peak_mib"], "MiB", None, extra, note)


def memory_rows(
    spec: str, series: Path, image: tuple[int, int], say: Callable[[str], None]
) -> list[Row]:
    """The ``memory`` part for one size: the peak RSS of ``ownscan render`` of the written
    ``series`` (mip, dvr; GL and, up to 16M voxels, arrays) and of the desktop viewer showing
    it (a 1280x800 window on ``$DISPLAY`` or a private Xvfb), each in a child process."""
    rows: list[Row] = []
    volume_bytes = 2 * _voxels(spec)  # the generated CT is int16
    label = f"{image[0]}x{image[1]}"
    for mode in ("mip", "dvr"):
        for backend in ("gl", "cpu"):
            if backend == "cpu" and _voxels(spec) > 1 << 24:
                continue
            m = render_peak(series, volume_bytes, mode, backend, image)
            tool = f"ownscan-{'array' if backend == 'cpu' else 'gl'}"
            rows.append(_memory_row(spec, label, mode, tool, m, "; ".join(m.get("notes", []))))
            say(f"{spec} memory {mode} {backend}: {rows[-1].value or 0:.0f} MiB")
    with x_display() as display:
        if display is None:
            m = {"error": "no X display and no Xvfb: the viewer was not measured"}
        else:
            m = view_peak(series, volume_bytes, (1280, 800), display)
    note = f"the viewer showing the series, 3D view in {m.get('mode', '?')}"
    rows.append(_memory_row(spec, "1280x800", "view", "ownscan-view", m, note))
    say(f"{spec} memory view: {rows[-1].value or 0:.0f} MiB")
    return rows


def load_rows(
    spec: str,
    root: Path,
    runs: int,
    say: Callable[[str], None],
    syntaxes: Sequence[str] = SYNTAXES,
) -> list[Row]:
    """The ``load`` part for one size: the generated series in ``root / "raw"``, transcoded to
    each of ``syntaxes`` by its real encoder (a row saying why when it cannot be), loaded in
    process (time, peak; its voxels checked against the uncompressed series') and to NIfTI by
    whole processes: ``ownscan export`` beside dcm2niix and SimpleITK when installed (median
    of ``runs``; a row with the reason where a tool cannot read the syntax)."""
    rows: list[Row] = []
    raw = root / "raw"
    tools = [PROCESS_TOOLS[0]]
    for peer in PROCESS_TOOLS[1:]:
        why = peer_missing(peer)
        if why:
            say(f"{spec}: {why}")
        else:
            tools.append(peer)
    digests: dict[str, str] = {}
    for syntax in syntaxes:
        src = raw if syntax == "uncompressed" else root / syntax
        work = root / f"out-{syntax}"
        try:
            if src != raw:
                try:
                    transcode(raw, src, syntax)
                except (ToolFailed, ValueError) as exc:
                    note = f"not measured: no {syntax} series ({exc})"
                    rows.append(
                        Row(
                            "load",
                            spec,
                            "in process",
                            syntax,
                            "ownscan-load",
                            None,
                            "ms",
                            note=note,
                        )
                    )
                    say(f"{spec} load {syntax}: {note}")
                    continue
            rows.extend(_load_syntax(spec, syntax, src, work, runs, tools, digests))
            said = ", ".join(f"{r.tool} {_fmt(r.value)}" for r in rows if r.mode == syntax)
            say(f"{spec} load {syntax}: {said} ms")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if src != raw:
                shutil.rmtree(src, ignore_errors=True)
    return rows


def _load_syntax(
    spec: str,
    syntax: str,
    src: Path,
    work: Path,
    runs: int,
    tools: Sequence[str],
    digests: dict[str, str],
) -> list[Row]:
    """The ``load`` rows of one written series ``src`` (see :func:`load_rows`); ``digests``
    collects each syntax's voxel digest (the first one given is the reference)."""
    rows: list[Row] = []
    try:
        got = in_process(src, max(1, runs))
    except OwnscanError as exc:  # ownscan cannot read it: the row says so
        rows.append(
            Row("load", spec, "in process", syntax, "ownscan-load", None, "ms", note=str(exc))
        )
    else:
        note = ""
        reference = next(iter(digests.values()), got.digest)
        digests[syntax] = got.digest
        if got.digest != reference:
            note = f"VOXELS DIFFER from the {next(iter(digests))} series"
        row = Row("load", spec, "in process", syntax, "ownscan-load", got.seconds * 1000, "ms")
        row.extra["x_volume"] = got.peak_x_volume
        row.note = note
        rows.append(row)
    work.mkdir()
    for tool, run in whole_process(src, work, max(1, runs), tools).items():
        if isinstance(run, str):  # the tool failed on this syntax (dcm2niix: JPEG-LS, HTJ2K)
            rows.append(Row("load", spec, "process", syntax, tool, None, "ms", note=run))
        else:  # whole processes: wall time, their own peak RSS and CPU
            extra = {"rss_mib": run.maxrss_mib, "cpu_s": run.cpu}
            rows.append(
                Row("load", spec, "process", syntax, tool, run.wall * 1000, "ms", None, extra)
            )
    return rows


_IMPORT_NOTES = {
    "cp -r": "no fsync: the kernel writes later",
    "cp -r + sync": "made durable (sync), as the library is",
    "ownscan-import": "a new library each round, durable; Python's start-up included",
}


def import_rows(
    volume: str, mode: str, src: Path, root: Path, runs: int, say: Callable[[str], None]
) -> list[Row]:
    """The ``import`` part on the folder ``src``: ``ownscan import`` into a new library beside
    ``cp -r`` (and made durable), whole processes taking turns for ``runs`` rounds under
    ``root`` (:mod:`ownscan.core.bench._import`); median wall ms, peak RSS in ``extra``."""
    files, nbytes = warm(src)
    dest = root / "import"
    dest.mkdir()
    try:
        samples = interleaved(contenders(src, files), dest, max(1, runs))
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    rows = []
    for tool, got in samples.items():
        extra: dict[str, Any] = {
            "rss_mib": max(s.rss_mib or 0.0 for s in got),
            "files": files,
            "mb": nbytes / 1e6,
            "rounds_ms": [s.wall * 1000 for s in got],
        }
        ms = statistics.median(s.wall for s in got) * 1000
        rows.append(
            Row("import", volume, "process", mode, tool, ms, "ms", None, extra, _IMPORT_NOTES[tool])
        )
    said = ", ".join(f"{r.tool} {r.value:.0f}" for r in rows)
    say(f"{volume} import {mode} ({files} files): {said} ms")
    return rows


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(available_bytes() / 2**30, 1),
        # huge pages for the GL driver's blocks (core/_hugepages.py): changes the upload
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
    }
    try:
        from ownscan.core.render import GLRenderer

        gl = GLRenderer()
        info["gl"] = gl.renderer_string
        gl.close()
    except Exception as exc:  # no GL here: the JSON says so
        info["gl"] = f"unavailable ({exc})"
    return info


def _fmt(v: float | None, digits: int = 0) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def markdown(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (ratio: best peer / row, above 1 is better; memory rows:
    the peak as a multiple of the volume's bytes, and above the process's RSS before the
    volume existed; whole-process rows: their peak RSS)."""
    lines = [
        "| part | volume | image | mode | tool | value | unit | peak RSS MiB | x volume "
        "| x volume above base | ratio vs best peer | note |",
        "|---|---|---|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        xv, xb = r.extra.get("x_volume"), r.extra.get("x_volume_above_base")
        rss = r.value if r.part == "memory" else r.extra.get("rss_mib")
        lines.append(
            f"| {r.part} | {r.volume} | {r.image} | {r.mode} | {r.tool} | {_fmt(r.value)} | "
            f"{r.unit} | {_fmt(rss)} | {_fmt(xv, 1)} | {_fmt(xb, 1)} | {_fmt(r.ratio, 2)} | "
            f"{r.note.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def plots(rows: Sequence[Row], out: Path) -> list[Path]:
    """Time and peak memory against volume size (voxels), log-log, one line per tool and
    mode; nothing (an empty list) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for part, ylabel in (("render", "ms per frame"), ("memory", "peak RSS (MiB)")):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            if r.part == part and r.value:
                key = f"{r.tool} {r.mode} {r.image}".strip()
                series.setdefault(key, []).append((_voxels(r.volume), r.value))
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for key, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("volume size (voxels)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6, ncol=2)
        ax.grid(True, which="both", alpha=0.3)
        path = out / f"bench-{part}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_report(rows: Sequence[Row], out: Path, settings: dict[str, Any]) -> list[Path]:
    """``bench.json``, ``bench.md`` and the plots in ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    doc = {"machine": info, "settings": settings, "rows": [asdict(r) for r in rows]}
    json_path = out / "bench.json"
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    md_path = out / "bench.md"
    md_path.write_text(
        f"# ownscan bench\n\n{info['gl']}; {info['cpus']} CPUs; python {info['python']}; "
        f"{sys.platform}\n\n" + markdown(rows)
    )
    return [json_path, md_path, *plots(rows, out)]
