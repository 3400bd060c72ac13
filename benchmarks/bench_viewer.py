"""What a frame of the viewer costs, on the bundled sample, in the window's own GL.

Run under a display (Xvfb works: software GL is correct and slow, GPU timings need a GPU)::

    Xvfb :71 -screen 0 1920x1080x24 -nolisten tcp -noreset &
    DISPLAY=:71 python benchmarks/bench_viewer.py [--size 1280x800] [--repeat 5]

Measured: a frame that only redraws the 2D views (what scrolling and window/level cost: the 3D
image is cached), a full-quality 3D frame per mode, and the draft 3D frame drawn while the user
rotates. The peer in the same run is the bare renderer: the same ``GLRenderer`` asked for the
same image in the same (window's) context and read back, without the viewer around it (2D
views, UI, swap; the viewer draws the renderer's texture without reading it back). The table
gives milliseconds and the ratios that matter: draft vs full quality, viewer frame vs bare
render. Timings on a shared machine vary with its load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import glfw


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.split("x"))

    from ownscan.core._sample import sample_path
    from ownscan.core.assembly import assemble
    from ownscan.core.render import Camera, Scene
    from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly
    from ownscan.core.volume import WindowPreset

    t = time.perf_counter()
    entries = entries_from_assembly(assemble(sample_path()))
    with Viewer(entries, ViewerOptions(size=(w, h))) as v:
        v.frame()  # the series loads on a thread: this is the first picture (its 2D views)
        first = (time.perf_counter() - t) * 1000.0
        v.wait_until_loaded()  # and the 3D view's shading
        ready = (time.perf_counter() - t) * 1000.0
        v.frame()
        print(f"GL: {v.ctx.info['GL_RENDERER']}; window {v.fb_size[0]}x{v.fb_size[1]}")
        print(
            f"volume {v.view.volume.describe()}; open + first picture {first:.0f} ms, "
            f"3D ready {ready:.0f} ms"
        )
        lay = v.layout()
        r3 = lay.views["3d"]
        rows = []
        # 2D-only frame: scroll one slice back and forth, the 3D image stays cached
        axial = lay.views["axial"]
        v.on_cursor_pos(axial.x + axial.w / 2, axial.y + axial.h / 2)

        def scroll_frame() -> None:
            v.view.scroll("axial", 1)
            v.frame()
            v.view.scroll("axial", -1)
            v.frame()

        rows.append(("2D views only (scroll)", _median_ms(scroll_frame, args.repeat) / 2, None))
        renderer = v._raycast.renderer
        for mode in v.modes:
            v.set_mode(mode)

            def full_frame() -> None:
                v.view.camera.azimuth += 1.0  # a new 3D image every frame
                v._last_motion = -1e9
                v.frame()

            def draft_frame() -> None:
                v.view.camera.azimuth += 1.0
                v._last_motion = time.monotonic()
                v.frame()

            full = _median_ms(full_frame, args.repeat)
            draft = _median_ms(draft_frame, args.repeat)
            mobj = v._mode_objects[mode]
            width, level = v.view.window
            scene = Scene(
                v.view.volume,
                mobj,
                window=WindowPreset("b", width, level),
                transfer_function=v.tf_presets[v.tf_index] if mobj.uses_transfer_function else None,
            )

            def bare(scene: Scene = scene) -> None:
                renderer.render(scene, Camera(azimuth=10.0), (r3.w, r3.h))

            rows.append((f"3D {mode} full quality", full, _median_ms(bare, args.repeat)))
            rows.append((f"3D {mode} draft (moving)", draft, None))
        v._last_motion = -1e9
        print(f"\n{'frame':<28}{'viewer ms':>10}{'bare render ms':>16}{'viewer/bare':>13}")
        for name, ms, bare_ms in rows:
            ratio = f"{ms / bare_ms:.2f}" if bare_ms else ""
            bare_s = f"{bare_ms:.1f}" if bare_ms else ""
            print(f"{name:<28}{ms:>10.1f}{bare_s:>16}{ratio:>13}")
        by = {n: ms for n, ms, _ in rows}
        print("\ndraft / full quality:")
        for mode in v.modes:
            print(
                f"  {mode:<6} {by[f'3D {mode} draft (moving)'] / by[f'3D {mode} full quality']:.2f}"
            )
    glfw.terminate()


if __name__ == "__main__":
    main()
