"""Benchmark: rigid registration, ownscan's ``register`` vs the same registration written in
SimpleITK's own example style.

Usage::

    python benchmarks/bench_compare.py [--scale 1.0] [--threads 2] [--runs 1] [--data DIR]

Two pairs, each "prior" and "current" (the prior moved by a known rigid motion: 8 degrees about
an oblique axis and 14 mm, then resampled onto the current's grid):

* MR: the real head MR of ../shared/data (studyforrest T1w) resampled onto a 256^3 grid of
  1 mm (oblique like the original), the current on an axial 256^3 grid;
* CT: the generated chest of tests/core/ctgen.py at 512x512x300 (0.7 x 0.7 x 1 mm).

``--scale`` shrinks every grid (0.25: MR 64^3 at 4 mm, CT 128x128x75) for a quick run.
Contenders, each in its own fresh process (so peak memory is its own), pinned to ``--threads``
cores and ITK threads:

* ``ownscan``: ``ownscan.core.compare.register(prior, current)`` from the two Volumes;
* ``sitk-example``: the registration of SimpleITK's examples and notebooks
  (``ImageRegistrationMethod`` with Mattes MI, 50 bins, 1% random samples, linear
  interpolation, gradient descent with learning rate 1, 100 iterations, convergence window
  10, scales from physical shift, shrink 4/2/1 with smoothing 2/1/0 mm), on the full-resolution
  images cast to float32, started from the same centre-of-mass alignment.

For each: wall and CPU seconds of the registration alone, peak RSS of the process and the
peak minus the RSS after loading the pair (what the registration itself added), and the
error against the known motion (mean displacement over the signal voxels, mm). Prints a
table with the ratios ownscan / sitk-example.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "core"))
sys.path.insert(0, str(REPO / "tests" / "core" / "compare"))

CONTENDERS = ("ownscan", "sitk-example")


def _rss_mb() -> float:
    """This process's peak RSS (VmHWM: per address space, so unlike ru_maxrss it does not
    carry the parent's peak across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _truth(centre: np.ndarray) -> np.ndarray:
    from volgen import rigid

    return rigid((1.0, -0.6, 0.4), 8.0, (9.0, -8.0, 7.0), centre)


def _save(folder: Path, name: str, volume, truth: np.ndarray | None = None) -> None:
    np.save(folder / f"{name}.npy", volume.voxels)
    meta = {
        "spacing": list(volume.spacing),
        "origin": list(volume.origin),
        "direction": np.asarray(volume.direction).tolist(),
        "modality": volume.modality,
    }
    if truth is not None:
        meta["truth"] = truth.tolist()
    (folder / f"{name}.json").write_text(json.dumps(meta))


def _load(folder: Path, name: str):
    from ownscan.core.volume import SeriesInfo, Volume

    meta = json.loads((folder / f"{name}.json").read_text())
    return Volume(
        np.load(folder / f"{name}.npy"),
        spacing=meta["spacing"],
        origin=meta["origin"],
        direction=np.asarray(meta["direction"]),
        modality=meta["modality"],
        info=SeriesInfo(frame_of_reference_uid=name),  # two frames: centre-of-mass start
    ), meta


def generate(folder: Path, scale: float) -> None:
    """Write the MR and CT pairs as .npy + .json into ``folder``."""
    import SimpleITK as sitk
    from ctgen import ct_phantom_slice
    from volgen import moved_copy

    from ownscan.core import load_volume
    from ownscan.core.compare import to_sitk
    from ownscan.core.volume import Volume

    sys.path.insert(0, str(REPO / "tests"))
    from realdata import restore_mr_head  # the real head MR, restored from tests/data

    head = load_volume(restore_mr_head(folder / "head-mr"))
    n = max(16, round(256 * scale))
    sp = 256.0 / n
    centre = head.index_to_lps((np.asarray(head.shape[::-1]) - 1) / 2.0)
    # the prior: the head on an oblique n^3 grid (the original's orientation)
    d = np.asarray(head.direction)
    origin = centre - d @ np.full(3, sp * (n - 1) / 2.0)
    ref = sitk.Image([n, n, n], sitk.sitkFloat32)
    ref.SetSpacing([sp] * 3)
    ref.SetOrigin(origin.tolist())
    ref.SetDirection(d.ravel().tolist())
    mr = sitk.GetArrayFromImage(
        sitk.Resample(to_sitk(head), ref, sitk.Transform(), sitk.sitkLinear, 0.0)
    )
    prior = Volume(
        mr.astype(np.int16), spacing=(sp,) * 3, origin=origin, direction=d, modality="MR"
    )
    truth = _truth(centre)
    cur_origin = centre - sp * (n - 1) / 2.0
    moved = moved_copy(prior, truth, shape=(n, n, n), spacing=(sp,) * 3, origin=cur_origin)
    _save(folder, "mr-prior", prior)
    _save(
        folder,
        "mr-current",
        Volume(moved.astype(np.int16), spacing=(sp,) * 3, origin=cur_origin, modality="MR"),
        truth,
    )

    rows = max(32, round(512 * scale))
    slices = max(16, round(300 * scale))
    px, dz = 0.7 * 512 / rows, 1.0 * 300 / slices
    rng = np.random.default_rng(1)
    ct = np.stack([ct_phantom_slice(rows, rows, k / (slices - 1), rng) for k in range(slices)])
    ct_origin = -0.5 * np.array([px * (rows - 1), px * (rows - 1), dz * (slices - 1)])
    prior = Volume(ct, spacing=(px, px, dz), origin=ct_origin, modality="CT")
    truth = _truth(np.zeros(3))
    moved = moved_copy(prior, truth, shape=ct.shape, spacing=(px, px, dz), origin=ct_origin + 4.0)
    _save(folder, "ct-prior", prior)
    cur = Volume(
        np.rint(moved).astype(np.int16), spacing=(px, px, dz), origin=ct_origin + 4.0, modality="CT"
    )
    _save(folder, "ct-current", cur, truth)


def sitk_example(prior, current) -> np.ndarray:
    """SimpleITK's example registration (see the module docstring); current -> prior 4x4."""
    import SimpleITK as sitk

    from ownscan.core.compare import to_sitk

    fixed, moving = to_sitk(current), to_sitk(prior)  # float32, full resolution
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    r = sitk.ImageRegistrationMethod()
    r.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    r.SetMetricSamplingStrategy(r.RANDOM)
    r.SetMetricSamplingPercentage(0.01)
    r.SetInterpolator(sitk.sitkLinear)
    r.SetOptimizerAsGradientDescent(
        learningRate=1.0,
        numberOfIterations=100,
        convergenceMinimumValue=1e-6,
        convergenceWindowSize=10,
    )
    r.SetOptimizerScalesFromPhysicalShift()
    r.SetShrinkFactorsPerLevel(shrinkFactors=[4, 2, 1])
    r.SetSmoothingSigmasPerLevel(smoothingSigmas=[2, 1, 0])
    r.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    r.SetInitialTransform(initial, inPlace=False)
    final = r.Execute(fixed, moving)
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(final).GetNthTransform(0))
    m = np.eye(4)
    rot = np.asarray(euler.GetMatrix()).reshape(3, 3)
    c, t = np.asarray(euler.GetCenter()), np.asarray(euler.GetTranslation())
    m[:3, :3], m[:3, 3] = rot, c + t - rot @ c
    return m


def one(folder: Path, pair: str, contender: str, threads: int) -> dict[str, float]:
    """Run one contender on one pair in this process; returns its measurements."""
    import SimpleITK as sitk

    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:threads])
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    prior, _ = _load(folder, f"{pair}-prior")
    current, meta = _load(folder, f"{pair}-current")
    base = _current_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if contender == "ownscan":
        from ownscan.core.compare import register

        matrix = register(prior, current).matrix
    else:
        matrix = sitk_example(prior, current)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _rss_mb()  # before the error's own arrays
    truth = np.asarray(meta["truth"])
    v = current.voxels[::3, ::3, ::3]  # every 27th voxel is plenty for a mean
    ijk = 3 * np.argwhere(v > v.min() + 0.15 * (float(v.max()) - float(v.min())))[:, ::-1]
    pts = current.index_to_lps(ijk)
    moved = pts @ matrix[:3, :3].T + matrix[:3, 3]
    err = np.linalg.norm(moved - (pts @ truth[:3, :3].T + truth[:3, 3]), axis=1).mean()
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_mb": peak,
        "added_mb": peak - base,
        "error_mm": float(err),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="grid size factor (default 1)")
    ap.add_argument("--threads", type=int, default=2, help="cores and ITK threads (default 2)")
    ap.add_argument("--runs", type=int, default=1, help="runs per contender (median)")
    ap.add_argument("--data", type=Path, help="keep the generated pairs here")
    ap.add_argument("--one", nargs=3, metavar=("PAIR", "CONTENDER", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        pair, contender, folder = args.one
        print(json.dumps(one(Path(folder), pair, contender, args.threads)))
        return 0
    folder = args.data or Path(tempfile.mkdtemp(prefix="bench-compare-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "ct-current.npy").exists():
        t = time.perf_counter()
        generate(folder, args.scale)
        print(f"generated the pairs in {time.perf_counter() - t:.1f} s under {folder}")
    rows = []
    for pair in ("mr", "ct"):
        shape = np.load(folder / f"{pair}-current.npy", mmap_mode="r").shape
        results: dict[str, dict[str, float]] = {}
        for contender in CONTENDERS:
            runs = []
            for _ in range(args.runs):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--threads",
                        str(args.threads),
                        "--one",
                        pair,
                        contender,
                        str(folder),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            results[contender] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        rows.append((pair, shape, results))
    print(f"\n{args.threads} threads/cores, median of {args.runs} run(s)")
    print("ratio = ownscan / sitk-example; added = peak RSS - RSS with the pair loaded")
    head = ("pair", "grid (x y z)", "contender", "wall s", "cpu s", "peak MB", "added MB")
    print("{:<4} {:<14} {:<13} {:>7} {:>7} {:>8} {:>9} {:>9}".format(*head, "error mm"))
    for pair, shape, results in rows:
        grid = "x".join(str(s) for s in shape[::-1])
        for contender, r in results.items():
            print(
                f"{pair:<4} {grid:<14} {contender:<13} {r['wall']:7.2f} {r['cpu']:7.2f} "
                f"{r['peak_mb']:8.0f} {r['added_mb']:9.0f} {r['error_mm']:9.3f}"
            )
        a, b = results["ownscan"], results["sitk-example"]
        wall, cpu = a["wall"] / b["wall"], a["cpu"] / b["cpu"]
        print(
            f"{'':<4} {'':<14} {'ratio':<13} {wall:7.2f} {cpu:7.2f} "
            f"{a['peak_mb'] / b['peak_mb']:8.2f} {a['added_mb'] / max(b['added_mb'], 1e-9):9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
