"""ms per frame of ownscan's renderers beside VTK's, on generated CT, at equal sampling.

Run (the defaults take several minutes on 2 cores; narrow with the options)::

    python benchmarks/bench_render.py
    python benchmarks/bench_render.py --volumes 256 --sizes 512 --modes mip,dvr
    python benchmarks/bench_render.py --gpu-target   # issue #7's GPU case, prints fps

The measuring is :mod:`ownscan.core.bench._render` (also a part of ``ownscan bench``); this
script prints its table. ``ratio`` columns are VTK's time divided by ownscan GL's (above 1:
ownscan is faster).
"""

from __future__ import annotations

import argparse
import functools
import sys

from ownscan.core.bench._render import MODES, bench_volume, gpu_target, measure_render


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--volumes", default="256,512x512x300", help="'256' and/or 'NXxNYxNZ'")
    p.add_argument("--sizes", default="512,1024")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--cpu-sizes", default="512", help="sizes for the (slow) array renderer")
    p.add_argument("--no-vtk", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--gpu-target",
        action="store_true",
        help="only issue #7's GPU case: 512x512x1000 CT, shaded dvr at 1920x1080, fps",
    )
    args = p.parse_args(argv)
    if args.gpu_target:
        gpu_target(args.repeat)
        return 0
    cpu_sizes = [(int(s), int(s)) for s in args.cpu_sizes.split(",") if s.isdigit()]
    results = measure_render(
        [(spec, functools.partial(bench_volume, spec)) for spec in args.volumes.split(",")],
        [(int(s), int(s)) for s in args.sizes.split(",")],
        args.modes.split(","),
        args.repeat,
        cpu_sizes=cpu_sizes,
        vtk=not args.no_vtk,
        report=lambda line: print(line, flush=True),
    )
    print()
    print(
        f"{'volume':>12} {'size':>5} {'mode':>6} {'gl ms':>8} {'array ms':>9} "
        f"{'vtk-gpu ms':>10} {'vtk-cpu ms':>10} {'gpu/gl':>7} {'cpu/gl':>7}"
    )
    nan = float("nan")
    for (spec, (side, _), name), r in results.items():
        t_gl = r["gl"]
        t_vg, t_vc = r.get("vtk-gpu", nan), r.get("vtk-cpu", nan)
        print(
            f"{spec:>12} {side:>5} {name:>6} {t_gl:8.0f} {r.get('array', nan):9.0f} "
            f"{t_vg:10.0f} {t_vc:10.0f} {t_vg / t_gl:7.2f} {t_vc / t_gl:7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
