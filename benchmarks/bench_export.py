"""Exporter benchmarks: an STL of a CT bone surface and an MP4 turntable, time and peak memory,
beside VTK's marching cubes (``vtkFlyingEdges3D``) on the same volume, in one run.

The volume is the generated chest CT phantom of ``tests/core/ctgen.py`` (int16 HU; default
512x512x300, 0.7 x 0.7 x 1 mm). Each row runs in a fresh child process, so "peak MiB" is that
process's own maximum resident set (``ru_maxrss``), the volume included:

* ``volume only``: making the volume (the baseline every other row carries);
* ``ownscan mc``: the surface extraction alone (crop, pad, scikit-image marching cubes, RAS);
* ``vtk flying edges``: ``vtkFlyingEdges3D`` on the same voxels at the same iso-level;
* ``ownscan stl``: the whole ``stl`` export (extraction, Taubin smoothing, decimation to
  ``--max-triangles``, clean-up, checks, binary STL written);
* ``ownscan mp4``: the ``movie`` export of a ``--frames`` turntable (dvr, ct-bone) at
  ``--size``, with the renderer ``--backend`` (auto: GL through EGL where there is one).

Run: ``python benchmarks/bench_export.py [--shape 300x512x512] [--frames 72] [--size 512x512]``.
Needs ``pip install "ownscan[mesh,movie,bench]"`` (vtk is the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))

THRESHOLD = 300.0  # HU; --threshold changes it (-400: the skin, a far larger surface)
_IMPORTS = {
    "ownscan mc": ("skimage.measure",),
    "vtk flying edges": ("vtk", "vtk.util.numpy_support"),
    "ownscan stl": ("skimage.measure", "trimesh", "fast_simplification"),
    "ownscan mp4": ("imageio_ffmpeg", "moderngl", "PIL.Image"),
}


def make_volume(shape: tuple[int, int, int]) -> Any:
    import numpy as np
    from ctgen import ct_phantom_slice

    from ownscan.core.volume import Volume

    nz, ny, nx = shape
    rng = np.random.default_rng(0)
    vox = np.empty(shape, dtype=np.int16)
    for k in range(nz):
        vox[k] = ct_phantom_slice(ny, nx, k / max(1, nz - 1), rng)
    return Volume(vox, spacing=(0.7, 0.7, 1.0), origin=(-180.0, -180.0, 0.0), modality="CT",
                  units="HU")  # fmt: skip


def row(name: str, shape: tuple[int, int, int], args: dict[str, Any]) -> dict[str, Any]:
    volume = make_volume(shape)
    # the libraries are imported before the clock starts: the rows time the work itself
    for module in _IMPORTS.get(name, ()):
        __import__(module)
    t = time.perf_counter()
    info: dict[str, Any] = {}
    if name == "ownscan mc":
        import numpy as np
        from skimage import measure

        from ownscan.plugins.mesh import _above

        lo, hi = _above(volume.voxels, THRESHOLD - 0.5)  # type: ignore[misc]
        crop = np.asarray(volume.voxels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], np.float32)
        padded = np.pad(crop, 1, constant_values=float(crop.min()) - 1)
        _, faces, _, _ = measure.marching_cubes(padded, THRESHOLD - 0.5, method="lorensen")
        info["triangles"] = len(faces)
    elif name == "vtk flying edges":
        import vtk
        from vtk.util import numpy_support

        image = vtk.vtkImageData()
        nz, ny, nx = volume.voxels.shape
        image.SetDimensions(nx, ny, nz)
        image.SetSpacing(*volume.spacing)
        arr = numpy_support.numpy_to_vtk(volume.voxels.ravel(), deep=False)
        image.GetPointData().SetScalars(arr)
        fe = vtk.vtkFlyingEdges3D()
        fe.SetInputData(image)
        fe.SetValue(0, THRESHOLD - 0.5)
        fe.ComputeNormalsOff()
        fe.Update()
        info["triangles"] = fe.GetOutput().GetNumberOfCells()
    elif name == "ownscan stl":
        from ownscan.plugins.mesh import MeshExporter

        with tempfile.TemporaryDirectory() as tmp:
            opts = {"threshold": THRESHOLD, "max_triangles": args["max_triangles"]}
            (path,) = MeshExporter("stl", "").export([volume], Path(tmp) / "bone.stl", opts)
            info["triangles"] = (path.stat().st_size - 84) // 50
    elif name == "ownscan mp4":
        from ownscan.plugins.pictures import MovieExporter

        with tempfile.TemporaryDirectory() as tmp:
            opts = {"frames": args["frames"], "size": args["size"], "preset": "ct-bone",
                    "backend": args["backend"]}  # fmt: skip
            (path,) = MovieExporter().export([volume], Path(tmp) / "turn.mp4", opts)
            info["MiB"] = round(path.stat().st_size / 2**20, 1)
    info["seconds"] = time.perf_counter() - t
    info["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return info


def _child(name: str, shape: tuple[int, int, int], args: dict[str, Any], q: Any) -> None:
    global THRESHOLD
    THRESHOLD = args["threshold"]
    q.put(row(name, shape, args))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="300x512x512", help="ZxYxX (default 300x512x512)")
    ap.add_argument("--frames", type=int, default=72)
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--max-triangles", type=int, default=500_000)
    ap.add_argument("--backend", default="auto", choices=("auto", "gl", "cpu"))
    ap.add_argument("--threshold", type=float, default=THRESHOLD, help="HU (default 300: bone)")
    ap.add_argument("--only", action="append", help="run only these rows (repeatable)")
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.shape.lower().split("x"))
    assert len(shape) == 3
    args = {"frames": a.frames, "size": a.size, "max_triangles": a.max_triangles,
            "backend": a.backend, "threshold": a.threshold}  # fmt: skip
    names = ["volume only", "ownscan mc", "vtk flying edges", "ownscan stl", "ownscan mp4"]
    ctx = mp.get_context("spawn")
    print(f"volume {a.shape} int16, threshold {a.threshold:g} HU")
    print(f"{'row':<18} {'seconds':>8} {'peak MiB':>9}  detail")
    results = {}
    for name in names:
        if a.only and name not in a.only and name != "volume only":
            continue
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(name, shape, args, q))
        p.start()
        info = q.get()
        p.join()
        results[name] = info
        base = results["volume only"]["seconds"] if name != "volume only" else 0.0
        detail = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("seconds", "peak_mib"))
        print(f"{name:<18} {info['seconds'] - base:8.2f} {info['peak_mib']:9.0f}  {detail}")
    if "ownscan mc" in results and "vtk flying edges" in results:
        base = results["volume only"]["seconds"]
        ours = results["ownscan mc"]["seconds"] - base
        theirs = results["vtk flying edges"]["seconds"] - base
        print(f"marching cubes: ownscan / vtkFlyingEdges3D time = {ours / theirs:.2f}x")
    print("(seconds: minus the 'volume only' row, i.e. the work itself)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
