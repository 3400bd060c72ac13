"""``ownscan render``: one picture of a series, headless, to PNG."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.text import escape_controls

if TYPE_CHECKING:
    from collections.abc import Callable

    from ownscan.core.render import Renderer, VisualisationMode
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
    """``--size WxH`` (checked in ``run``, so that a mistake is one line, not a usage text)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must be WxH, e.g. 512x512, got {text!r}") from None
    if not (1 <= w <= 8192 and 1 <= h <= 8192):
        raise UsageError(f"--size must be within 1..8192 per side, got {text!r}")
    return (w, h)


def _check_output(path: str) -> None:
    """Refuse an output the PNG cannot be written to, before any work, in one line."""
    import os

    if os.path.isdir(path):
        raise UsageError(f"-o {path}: is a folder; give a file name, e.g. {path}/picture.png")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"-o {path}: no such folder {folder}")


def write_png(path: str, image: Any, volume: Volume) -> None:
    """The picture ``image`` (RGB or RGBA, uint8) as the PNG ``path``, carrying the series'
    warnings (what was printed above it) in PNG's ``Warning`` text chunk, as the ``png``
    exporter's pictures do: a picture handed on keeps them (ownscan.core.recorded)."""
    import numpy as np

    from ownscan.core.recorded import png_bytes, recorded_warnings

    rgb = np.ascontiguousarray(image[..., :3])
    with open(path, "wb") as f:
        f.write(png_bytes(rgb, recorded_warnings(volume)))


def _mib(text: str) -> int:
    try:
        mib = float(text)
    except ValueError:
        mib = -1.0
    if not mib > 0:
        raise argparse.ArgumentTypeError(f"--gpu-budget takes MiB > 0, e.g. 512, got {text!r}")
    return int(mib * 2**20)


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
    parser.add_argument(
        "--gpu-budget",
        type=_mib,
        metavar="MiB",
        help="gl: GPU memory the volume may take (default 2048); a larger volume is drawn "
        "brick by brick at full resolution, the bricks beyond the budget uploaded again each "
        "frame (a third party's mode: averaged down, with a note)",
    )
    parser.add_argument("--size", default="512x512", help="WxH (default 512x512)")
    parser.add_argument("--azimuth", type=float, help="degrees; + turns towards the patient's left")
    parser.add_argument("--elevation", type=float, help="degrees; + looks from above the head")
    parser.add_argument("--zoom", type=float, default=1.0, help="1 fits the volume (default)")
    parser.add_argument("--perspective", action="store_true", help="perspective projection")
    parser.add_argument(
        "--plane", help="axial, coronal, sagittal... (view direction; mpr default: axial)"
    )
    parser.add_argument("--offset", type=float, default=0.0, help="mpr: slice offset in mm")
    parser.add_argument(
        "--slab",
        type=float,
        default=None,
        help="mpr: slab thickness in mm (default 0: one slice); minip: slab thickness "
        "(default 10 mm, ownscan.core.render.MINIP_SLAB_MM; 0: through the whole volume)",
    )
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
    parser.add_argument(
        "--volume",
        type=int,
        metavar="N",
        help="volume N (from 1) of a 4D series: time point, phase, diffusion direction",
    )
    parser.add_argument(
        "--frame",
        type=int,
        metavar="N",
        help="2D images with several frames (cine, colour stacks): frame N (default 1)",
    )
    parser.add_argument("--annotate", action="store_true", help="orientation labels, scale bar")
    parser.add_argument(
        "--phantom",
        action="store_true",
        help="render a generated chest CT (heart on the patient's left) instead of SOURCE",
    )


def _load(
    args: argparse.Namespace, make_renderer: Callable[[], Renderer], mode: VisualisationMode
) -> tuple[Volume, Renderer | None]:
    """The Volume to draw: the generated phantom, or one series of SOURCE / the sample; and
    the renderer, made (with ``mode``'s program) while a series' voxels load (None: made
    after, see :func:`~ownscan.core.render._ahead.load_while_ready`)."""
    if args.phantom:
        if args.volume is not None:
            raise UsageError("--volume: the phantom has one volume")
        if args.source or args.sample:
            raise UsageError("give SOURCE, --sample or --phantom (one of them)")
        from ownscan.core.render.phantom import ct_phantom

        return ct_phantom(), None
    from ownscan.core.commands._common import (
        choose_series,
        read_source,
        report_problems,
        source_name,
    )

    source, found = read_source(args)
    report_problems(found, NAME, skipped=not args.sample)
    chosen = choose_series(found, source_name(args, source), NAME, args.series, doing="drawing")
    volume = 1 if args.volume is None else args.volume
    if not 1 <= volume <= chosen.n_volumes:
        raise UsageError(
            f"--volume {volume}: series {chosen.label} has volume(s) 1..{chosen.n_volumes}"
        )
    from ownscan.core.render._ahead import load_while_ready

    # the voxels in a scratch file: the render path lets their pages go behind each pass,
    # so the host volume and its texture are not both held (docs/RENDER.md, Large volumes);
    # the GL context and the program made meanwhile (docs/BENCH.md, first frame)
    return load_while_ready(chosen, volume - 1, make_renderer, mode)


def _close(renderer: Renderer | None) -> None:
    """Close the renderer made during the load when the volume is drawn without it."""
    if renderer is not None:
        renderer.close()


def run(args: argparse.Namespace) -> int:
    import warnings

    from ownscan.core.plugin_host import get_host
    from ownscan.core.render import (
        RenderNote,
        annotate,
        create_renderer,
        scale_words,
        view_from_options,
        window_from_options,
    )
    from ownscan.core.render._setup import view_pixel_mm

    if (args.window is None) != (args.level is None):  # before the (slow) load
        raise UsageError("give --window and --level together")
    args.size = _size(args.size)
    _check_output(args.output)
    host = get_host()
    mode = host.mode(args.mode or "dvr")  # an unknown mode: also before the (slow) load

    def make_renderer() -> Renderer:
        return create_renderer(args.backend, memory_budget=args.gpu_budget)

    from ownscan.core.render._view import drawn_mode

    volume, ready = _load(args, make_renderer, drawn_mode(mode, args.slab)[0])
    for w in volume.warnings:
        print(escape_controls(f"ownscan render: warning: {w}"), file=sys.stderr)
    from ownscan.core.render._colour import spatial_colour

    if spatial_colour(volume):
        from ownscan.core.commands._render_colour import run_colour

        _close(ready)
        return run_colour(args, volume, mode.name)
    # frames without slice positions (an ultrasound or angiography cine, grey or colour) are
    # pictures in time, not a volume: the viewer shows them in one pane, and so does render
    if volume.is_2d or volume.samples > 1 or volume.extra.get("kind") == "frames":
        _close(ready)
        window, _ = window_from_options(volume, vars(args), host)
        return _run_2d(args, volume, mode.name, window)
    scene, camera = view_from_options(volume, vars(args), host)
    if scene.mode.slab and not mode.slab and args.slab is None:  # minip's default slab
        print(
            f"ownscan render: note: {mode.name} over a {scene.slab_mm:g} mm slab through the "
            "centre, as for lungs (--slab MM sets it; --slab 0: the whole volume)",
            file=sys.stderr,
        )
    renderer = ready if ready is not None else make_renderer()
    ready = None
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenderNote)
        image = renderer.render(scene, camera, args.size)
    seconds = time.perf_counter() - t0
    for c in caught:
        print(f"ownscan render: note: {c.message}", file=sys.stderr)
    image[..., 3] = 255  # premultiplied over black: the RGB is the picture on black
    if args.annotate:
        # the framing alone: no second pass over the volume
        pixel_mm = view_pixel_mm(volume, camera, args.size)
        image = annotate(
            image,
            camera,
            pixel_mm if volume.spacing_known else None,
            notes=renderer.notes,
            labels=None if volume.orientation_known else {},
            scale_words=scale_words(volume),
        )
    write_png(args.output, image, volume)
    renderer.close()
    w, h = args.size
    print(
        f"wrote {args.output} ({w}x{h}, {scene.mode.name}, {renderer.name} backend, "
        f"{volume.describe()}, {seconds:.2f} s)"
    )
    return 0


_SLICE_MODES = ("mpr",)  # modes that draw a plane: a 2D image is what they would show


def _run_2d(args: argparse.Namespace, volume: Volume, mode: str, window: Any) -> int:
    """Draw a single image (or one frame of a colour or cine series) as a flat picture."""
    from ownscan.core.render import annotate, draw_image, image_labels, scale_words

    n = volume.shape[0]
    what = "a single 2D image"
    if n > 1:  # frames without slice positions: a cine, not a volume
        colour = "colour " if volume.samples > 1 else ""
        what = f"{colour}frames without slice positions (a cine loop or sweep, not a volume)"
        print(f"ownscan render: note: {what}: no MPR or 3D, drawn frame by frame", file=sys.stderr)
    elif mode not in _SLICE_MODES:
        print(
            f"ownscan render: note: {what}: drawn as a 2D picture (mode {mode} needs a 3D volume)",
            file=sys.stderr,
        )
    frame = 0
    if args.frame is not None:
        if not 1 <= args.frame <= n:
            raise UsageError(f"--frame {args.frame}: this series has frames 1..{n}")
        frame = args.frame - 1
    elif n > 1:
        print(
            f"ownscan render: note: {n} frames; drawing frame 1 (choose with --frame N)",
            file=sys.stderr,
        )
    image, where = draw_image(volume, args.size, window=window, frame=frame, zoom=args.zoom)
    if args.annotate:
        notes = [f"frame {frame + 1} of {n}"] if n > 1 else []
        image = annotate(
            image,
            None,
            where.pixel_mm,
            notes=notes,
            labels=image_labels(volume),
            scale_words=scale_words(volume),
        )
    write_png(args.output, image, volume)
    w, h = args.size
    print(f"wrote {args.output} ({w}x{h}, 2D image, {volume.describe()})")
    return 0
