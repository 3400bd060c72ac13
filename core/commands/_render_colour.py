"""``ownscan render`` of a colour volume: the colour MPR (``ownscan.core.render._colour``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["run_colour"]


def run_colour(args: argparse.Namespace, volume: Any, mode: str) -> int:
    """Draw a colour volume with slice positions as a colour MPR (three planes, or the one
    ``--plane`` / ``--azimuth`` names); a 3D mode falls back to it with a one-line note."""
    from ownscan.core.plugin_host import get_host
    from ownscan.core.render import annotate, create_renderer, scale_words
    from ownscan.core.render._colour import colour_mpr
    from ownscan.core.render._setup import view_pixel_mm

    if mode != "mpr":
        print(
            f"ownscan render: note: mode {mode}: a colour volume has three values per voxel, "
            "not one to project, composite or shade; drawn as a colour MPR",
            file=sys.stderr,
        )
    if args.window is not None or args.preset is not None:
        print(
            "ownscan render: note: the colours are shown as stored (--window and --preset "
            "apply to grey images)",
            file=sys.stderr,
        )
    renderer = create_renderer(args.backend, memory_budget=args.gpu_budget)

    def decorate(pane: Any, camera: Any, channel: Any) -> Any:
        size = (pane.shape[1], pane.shape[0])
        return annotate(
            pane,
            camera,
            view_pixel_mm(channel, camera, size) if channel.spacing_known else None,
            notes=renderer.notes,
            labels=None if channel.orientation_known else {},
            scale_words=scale_words(channel),
        )

    t0 = time.perf_counter()
    image, cameras = colour_mpr(
        renderer,
        volume,
        vars(args),
        args.size,
        get_host(),
        decorate if args.annotate else None,
    )
    seconds = time.perf_counter() - t0
    renderer.close()
    from ownscan.core.commands.render import write_png

    write_png(args.output, image, volume)
    w, h = args.size
    planes = "three planes" if len(cameras) == 3 else "one plane"
    print(
        f"wrote {args.output} ({w}x{h}, colour mpr, {planes}, {renderer.name} backend, "
        f"{volume.describe()}, {seconds:.2f} s)"
    )
    return 0
