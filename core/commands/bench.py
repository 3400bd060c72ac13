"""``ownscan bench``: the benchmark suite on generated CT, written as JSON, Markdown, plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from ownscan.core.errors import UsageError

NAME = "bench"
HELP = "benchmark ownscan on generated CT beside its peers (JSON, Markdown table, plots)"
DESCRIPTION = (
    "Measure series loading per transfer syntax (beside dcm2niix and SimpleITK), library "
    "import (beside cp -r), ms per frame per mode and image size (beside VTK's mappers and "
    "vispy when installed: pip install ownscan[bench]), the GL upload, the first frame, and "
    "the peak memory of one render, on generated "
    "chest CT (body, fat, lungs, heart, liver, contrast aorta, spine, ribs, noise) of each size. "
    "Every row carries its ratio against the best peer in the same run. Sizes that do not fit "
    "this machine's free memory are skipped with a note."
)
ORDER = 95


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small volumes, one 256x256 image, one frame each; load and import on the "
        "smallest volume only (one to two minutes)",
    )
    parser.add_argument(
        "--sizes", help="volumes NXxNYxNZ, comma-separated (default: 512x512x300 ... 1024^2x1000)"
    )
    parser.add_argument("--images", help="image sizes WxH, comma-separated")
    parser.add_argument("--modes", help="comma-separated (default: all six)")
    parser.add_argument(
        "--parts",
        default="load,import,render,upload,first-frame,memory",
        help="load, import, render, upload, first-frame, memory (default: all)",
    )
    parser.add_argument(
        "--syntaxes",
        help="transfer syntaxes of the load part: uncompressed, jpeg2000, jpeg-ls, "
        "jpeg-lossless, rle, htj2k (default: all; --quick: uncompressed, htj2k)",
    )
    parser.add_argument(
        "--import-files",
        type=int,
        help="the import part also takes this many small instances in 10 series "
        "(default 10000; --quick: 0, none)",
    )
    parser.add_argument(
        "--repeat", type=int, help="frames, runs or rounds per measurement (median)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="folder for the results"
    )


def _triples(text: str, what: str) -> list[str]:
    specs = [s.strip().lower() for s in text.split(",") if s.strip()]
    for s in specs:
        parts = s.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise UsageError(f"{what} must be NXxNYxNZ, e.g. 512x512x300, got {s!r}")
    return specs


def _pairs(text: str) -> list[tuple[int, int]]:
    out = []
    for s in (s.strip().lower() for s in text.split(",") if s.strip()):
        try:
            w, h = (int(v) for v in s.split("x"))
        except ValueError:
            raise UsageError(f"image sizes must be WxH, e.g. 512x512, got {s!r}") from None
        if not (1 <= w <= 8192 and 1 <= h <= 8192):
            raise UsageError(f"image sizes must be within 1..8192 per side, got {s!r}")
        out.append((w, h))
    return out


def run(args: argparse.Namespace) -> int:
    from ownscan.core.bench import (
        FULL_IMAGES,
        FULL_IMPORT_FILES,
        FULL_SIZES,
        QUICK_IMAGES,
        QUICK_SIZES,
        QUICK_SYNTAXES,
        SYNTAXES,
        run_suite,
        write_report,
    )
    from ownscan.core.bench._render import MODES
    from ownscan.core.bench._suite import PARTS
    from ownscan.core.commands._library_args import Progress

    sizes = (
        _triples(args.sizes, "--sizes")
        if args.sizes
        else list(QUICK_SIZES if args.quick else FULL_SIZES)
    )
    images = (
        _pairs(args.images) if args.images else list(QUICK_IMAGES if args.quick else FULL_IMAGES)
    )
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else list(MODES)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise UsageError(f"unknown mode {unknown[0]!r}; valid: {', '.join(MODES)}")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise UsageError(f"unknown part {bad[0]!r}; valid: {', '.join(PARTS)}")
    if args.syntaxes:
        syntaxes = [s.strip().lower() for s in args.syntaxes.split(",") if s.strip()]
    else:
        syntaxes = list(QUICK_SYNTAXES if args.quick else SYNTAXES)
    wrong = [s for s in syntaxes if s not in SYNTAXES]
    if wrong:
        raise UsageError(f"unknown transfer syntax {wrong[0]!r}; valid: {', '.join(SYNTAXES)}")
    import_files = args.import_files
    if import_files is None:
        import_files = 0 if args.quick else FULL_IMPORT_FILES
    if import_files < 0:
        raise UsageError(f"--import-files must be 0 or more, got {import_files}")
    repeat = args.repeat or (1 if args.quick else 3)
    # steps: per size, the render modes x images, each syntax's load, the import, the two
    # uploads, two first frames, up to five memory children; the small-files import
    per_size = len(modes) * len(images) * ("render" in parts) + 2 + 2 + 5
    series = 1 if args.quick else len(sizes)  # sizes with the load and import parts
    total = len(sizes) * per_size + series * (len(syntaxes) + 1) + (import_files > 0)
    bar = Progress("bench", total=total, unit="step")

    def step(line: str) -> None:
        bar.write(line)
        if line.startswith("  ") or any(
            f" {p} " in line for p in ("first frame", "memory", "load", "import", "upload")
        ):
            bar.update(1)

    try:
        rows = run_suite(
            sizes,
            images,
            modes,
            repeat,
            parts,
            progress=step,
            syntaxes=syntaxes,
            import_files=import_files if "import" in parts else 0,
            series_sizes=sizes[:1] if args.quick else None,
        )
    finally:
        bar.close()
    settings = {
        "sizes": sizes,
        "images": images,
        "modes": modes,
        "repeat": repeat,
        "parts": parts,
        "syntaxes": syntaxes,
        "import_files": import_files,
    }
    for path in write_report(rows, args.out, settings):
        print(f"wrote {path}")
    return 0
