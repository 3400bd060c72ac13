"""``ownscan render``: one picture of a series, headless, to PNG."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from ownscan.core.errors import UsageError

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

NAME = "render"
HELP = "render a series to a PNG (slice, MIP, MinIP, X-ray, volume rendering, isosurface)"
DESCRIPTION = (
    "Render SOURCE (a folder, disc or file with DICOM) to a PNG, headless. The default 3D view "
    "is anterior: the patient faces you, the patient's left on the image's right, head up. "
    "By default the PNG holds only the picture on black; --annotate adds orientation labels "
    "and a scale bar."
)
ORDER = 40
PLUGIN_OPTIONS = True  # plugins add their flags (ownscan_addoption)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, e.g. 512x512, got {text!r}") from None
    if not (1 <= w <= 8192 and 1 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be within 1..8192 per side, got {text!r}")
    return (w, h)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._common import add_source_arguments

    add_source_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument(
        "--mode", default=None, help="mpr, mip, minip, xray, dvr, iso (default: dvr)"
    )
    parser.add_argument(
        "--preset",
        help="a transfer function (ct-bone, mr-default...) or a window preset (brain, lung...)",
    )
    parser.add_argument("--window", type=float, help="window width (with --level)")
    parser.add_argument("--level", type=float, help="window level (with --window)")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("gl", "cpu", "auto"),
        help="gl: OpenGL (EGL, no display needed); cpu: arrays (cupy on CUDA); auto: gl, "
        "else cpu with a message (default)",
    )
    parser.add_argument("--size", type=_size, default=(512, 512), help="WxH (default 512x512)")
    parser.add_argument("--azimuth", type=float, help="degrees; + turns towards the patient's left")
    parser.add_argument("--elevation", type=float, help="degrees; + looks from above the head")
    parser.add_argument("--zoom", type=float, default=1.0, help="1 fits the volume (default)")
    parser.add_argument("--perspective", action="store_true", help="perspective projection")
    parser.add_argument(
        "--plane", help="axial, coronal, sagittal... (view direction; mpr default: axial)"
    )
    parser.add_argument("--offset", type=float, default=0.0, help="mpr: slice offset in mm")
    parser.add_argument("--slab", type=float, default=0.0, help="mpr: slab thickness in mm")
    parser.add_argument("--iso", type=float, help="iso: the iso value (volume units)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the mode (repeatable), e.g. --param iso_value=300",
    )
    parser.add_argument(
        "--series", type=int, metavar="N", help="series N as numbered by `ownscan info`"
    )
    parser.add_argument("--annotate", action="store_true", help="orientation labels, scale bar")
    parser.add_argument(
        "--phantom",
        action="store_true",
        help="render a generated chest CT (heart on the patient's left) instead of SOURCE",
    )


def _load(args: argparse.Namespace) -> Volume:
    """The Volume to draw: the generated phantom, or one series of SOURCE / the sample."""
    if args.phantom:
        if args.source or args.sample:
            raise UsageError("give SOURCE, --sample or --phantom (one of them)")
        from ownscan.core.render.phantom import ct_phantom

        return ct_phantom()
    from ownscan.core.commands._common import choose_series, read_source, report_problems

    source, found = read_source(args)
    report_problems(found, NAME, skipped=not args.sample)
    chosen = choose_series(found, source, NAME, args.series, doing="drawing")
    return chosen.load()


def run(args: argparse.Namespace) -> int:
    import warnings

    import numpy as np
    from PIL import Image

    from ownscan.core.plugin_host import get_host
    from ownscan.core.render import (
        RenderNote,
        annotate,
        create_renderer,
        frame_for,
        prepare_volume,
        view_from_options,
    )

    if (args.window is None) != (args.level is None):  # before the (slow) load
        raise UsageError("give --window and --level together")
    get_host().mode(args.mode or "dvr")  # an unknown mode: also before the load
    volume = _load(args)
    for w in volume.warnings:
        print(f"ownscan render: warning: {w}", file=sys.stderr)
    scene, camera = view_from_options(volume, vars(args))
    renderer = create_renderer(args.backend)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenderNote)
        image = renderer.render(scene, camera, args.size)
    seconds = time.perf_counter() - t0
    for c in caught:
        print(f"ownscan render: note: {c.message}", file=sys.stderr)
    image[..., 3] = 255  # premultiplied over black: the RGB is the picture on black
    if args.annotate:
        prepared = prepare_volume(volume)
        pixel_mm = frame_for(prepared, scene, camera, args.size).pixel_mm
        image = annotate(image, camera, pixel_mm, notes=renderer.notes)
    Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB").save(args.output)
    renderer.close()
    w, h = args.size
    print(
        f"wrote {args.output} ({w}x{h}, {scene.mode.name}, {renderer.name} backend, "
        f"{volume.describe()}, {seconds:.2f} s)"
    )
    return 0
