"""ms per frame of ownscan's renderers beside VTK's, on generated CT, at equal sampling.

Run (the defaults take several minutes on 2 cores; narrow with the options)::

    python benchmarks/bench_render.py
    python benchmarks/bench_render.py --volumes 256 --sizes 512 --modes mip,dvr
    python benchmarks/bench_render.py --gpu-target   # issue #7's GPU case, prints fps

Measured in one process, one after another: ownscan GL (moderngl; llvmpipe without a GPU),
ownscan array renderer (numpy, or cupy on CUDA), VTK's vtkGPUVolumeRayCastMapper and
vtkFixedPointVolumeRayCastMapper (offscreen through EGL), all with one sample per smallest
voxel spacing, automatic sample-distance adjustment off, the same image size and framing.
Each number is the median of ``--repeat`` frames after one warm-up frame (texture upload and
shader compilation excluded), including the read-back of the pixels. ``ratio`` columns are
VTK's time divided by ownscan GL's (above 1: ownscan is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np

from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import ArrayRenderer, Camera, GLRenderer, Scene, frame_for, prepare_volume
from ownscan.core.render.phantom import ct_phantom
from ownscan.core.volume import Volume, WindowPreset

MODES = ("mpr", "mip", "minip", "xray", "dvr", "iso")
ISO_HU = 300.0
WINDOW = WindowPreset("bone", 2000.0, 300.0)


def _volume(spec: str) -> Volume:
    if spec == "256":
        return ct_phantom((256, 256, 256), spacing=(1.2, 1.2, 1.2))
    nx, ny, nz = (int(v) for v in spec.split("x"))
    return ct_phantom((nz, ny, nx), spacing=(0.7, 0.7, 1.0))


def _time(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: upload, compile
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


class VtkScene:
    """The same picture with VTK: CT bone transfer function, shading, same step and framing."""

    def __init__(self, volume: Volume, mode: str, step_mm: float, tf: Any, gpu: bool) -> None:
        import vtk
        from vtk.util import numpy_support

        self.vtk = vtk
        data = np.ascontiguousarray(volume.voxels)
        image = vtk.vtkImageData()
        z, y, x = data.shape
        image.SetDimensions(x, y, z)
        image.SetSpacing(*volume.spacing)
        image.SetOrigin(*volume.origin)
        arr = numpy_support.numpy_to_vtk(data.ravel(), deep=True)
        image.GetPointData().SetScalars(arr)
        if gpu:
            mapper = vtk.vtkGPUVolumeRayCastMapper()
            mapper.SetLockSampleDistanceToInputSpacing(False)
        else:
            mapper = vtk.vtkFixedPointVolumeRayCastMapper()
            mapper.SetInteractiveSampleDistance(step_mm)
            mapper.SetImageSampleDistance(1.0)
            mapper.SetMaximumImageSampleDistance(1.0)
            mapper.SetMinimumImageSampleDistance(1.0)
        mapper.SetAutoAdjustSampleDistances(False)
        mapper.SetSampleDistance(step_mm)
        mapper.SetInputData(image)
        prop = vtk.vtkVolumeProperty()
        prop.SetInterpolationTypeToLinear()
        colour = vtk.vtkColorTransferFunction()
        opacity = vtk.vtkPiecewiseFunction()
        if mode == "dvr":
            for v, r, g, b, a in tf.points:
                colour.AddRGBPoint(v, r, g, b)
                opacity.AddPoint(v, a)
            prop.ShadeOn()
            mapper.SetBlendModeToComposite()
        else:
            lo, hi = WINDOW.level - WINDOW.width / 2, WINDOW.level + WINDOW.width / 2
            colour.AddRGBPoint(lo, 0, 0, 0)
            colour.AddRGBPoint(hi, 1, 1, 1)
            opacity.AddPoint(lo, 1.0)
            opacity.AddPoint(hi, 1.0)
            if mode == "mip":
                mapper.SetBlendModeToMaximumIntensity()
            elif mode == "minip":
                mapper.SetBlendModeToMinimumIntensity()
            elif mode == "xray":
                mapper.SetBlendModeToAverageIntensity()
            elif mode == "iso":
                mapper.SetBlendModeToIsoSurface()
                prop.GetIsoSurfaceValues().SetValue(0, ISO_HU)
                prop.ShadeOn()
        prop.SetColor(colour)
        prop.SetScalarOpacity(opacity)
        self.actor = vtk.vtkVolume()
        self.actor.SetMapper(mapper)
        self.actor.SetProperty(prop)
        self.renderer = vtk.vtkRenderer()
        self.renderer.AddVolume(self.actor)
        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(True)
        self.window.AddRenderer(self.renderer)

    def frame(self, size: tuple[int, int], centre: Any, half_h: float) -> None:
        self.window.SetSize(*size)
        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        cam.SetFocalPoint(*centre)
        cam.SetPosition(centre[0], centre[1] - 1000.0, centre[2])  # anterior, looking posterior
        cam.SetViewUp(0, 0, 1)
        cam.SetParallelScale(half_h)
        self.renderer.ResetCameraClippingRange()

    def render(self) -> None:
        self.window.Render()
        w, h = self.window.GetSize()
        self.window.GetRGBACharPixelData(0, 0, w - 1, h - 1, 0)

    def close(self) -> None:
        self.window.Finalize()


def gpu_target(repeat: int) -> None:
    """Issue #7's GPU target: a 512x512x1000 CT, shaded dvr (ct-bone), 1920x1080, >= 60 fps.

    Prints ms and fps for the full-quality frame with the pixels read back (``render``) and
    left on the GPU as the viewer draws it (``render_texture`` then ``finish``), and the
    viewer's quick pass while dragging (``interactive``). Runs on llvmpipe too (slowly).
    """
    host = PluginHost()
    mode = {m.name: m for m in host.modes()}["dvr"]
    tf = {t.name: t for t in host.transfer_functions()}["ct-bone"]
    t0 = time.perf_counter()
    volume = ct_phantom((1000, 512, 512), spacing=(0.7, 0.7, 0.5))
    print(f"volume: {volume.describe()} (generated in {time.perf_counter() - t0:.1f} s)")
    gl = GLRenderer()
    print(f"ownscan GL: {gl.renderer_string}")
    scene = Scene(volume, mode, window=WINDOW, transfer_function=tf)
    cam = Camera.for_plane("anterior")
    size = (1920, 1080)
    t0 = time.perf_counter()
    gl.render(scene, cam, size)
    print(f"first frame (upload, gradient, compile): {time.perf_counter() - t0:.1f} s")
    if gl.notes:
        print("notes:", *gl.notes)

    def on_gpu(interactive: bool) -> None:
        gl.render_texture(scene, cam, size, interactive=interactive)
        with gl.ctx:
            gl.ctx.finish()

    for name, fn in (
        ("render (read back)", lambda: gl.render(scene, cam, size)),
        ("render_texture (on GPU)", lambda: on_gpu(False)),
        ("interactive pass (on GPU)", lambda: on_gpu(True)),
    ):
        ms = _time(fn, repeat)
        print(f"  1920x1080 dvr {name:>26}: {ms:8.1f} ms  {1000.0 / ms:7.1f} fps  (target 60)")
    gl.close()


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
    host = PluginHost()
    modes = {m.name: m for m in host.modes()}
    tf = {t.name: t for t in host.transfer_functions()}["ct-bone"]
    gl = GLRenderer()
    cpu = ArrayRenderer()
    print(f"ownscan GL: {gl.renderer_string}; array renderer: {cpu.name}; {os.cpu_count()} CPUs")
    results: dict[tuple[str, str, str], dict[str, float]] = {}
    frames = {}
    # all of ownscan first, VTK after: once VTK's EGL window has run, our context is unusable
    for spec in args.volumes.split(","):
        volume = _volume(spec)
        print(f"{spec}: {volume.describe()}", flush=True)
        for size_s in args.sizes.split(","):
            size = (int(size_s), int(size_s))
            for name in args.modes.split(","):
                scene = Scene(
                    volume,
                    modes[name],
                    window=WINDOW,
                    transfer_function=tf,
                    parameters={"iso_value": ISO_HU} if name == "iso" else {},
                )
                cam = Camera.for_plane("axial" if name == "mpr" else "anterior")
                r = results.setdefault((spec, size_s, name), {})
                r["gl"] = _time(lambda s=scene, c=cam, z=size: gl.render(s, c, z), args.repeat)
                if size_s in args.cpu_sizes.split(","):
                    r["array"] = _time(lambda s=scene, c=cam, z=size: cpu.render(s, c, z), 1)
                frames[(spec, size_s, name)] = frame_for(prepare_volume(volume), scene, cam, size)
                print(f"  {size_s} {name}: {r}", flush=True)
        del volume
    gl.close()
    for spec in [] if args.no_vtk else args.volumes.split(","):
        volume = _volume(spec)
        for name in args.modes.split(","):
            if name == "mpr":
                continue  # a slice is not a volume-mapper job
            for gpu in (True, False):
                if not gpu and name in ("xray", "iso"):
                    continue  # the fixed-point mapper has no such blend mode
                vs = None
                for size_s in args.sizes.split(","):
                    frame = frames[(spec, size_s, name)]
                    if vs is None:
                        vs = VtkScene(volume, name, frame.step_mm, tf, gpu)
                    vs.frame((frame.width, frame.height), frame.centre_lps, frame.half_mm[1])
                    key = "vtk-gpu" if gpu else "vtk-cpu"
                    results[(spec, size_s, name)][key] = _time(vs.render, args.repeat)
                    print(
                        f"  {spec} {size_s} {name}: {key} {results[(spec, size_s, name)][key]:.0f}",
                        flush=True,
                    )
                if vs is not None:
                    vs.close()
        del volume
    print()
    print(
        f"{'volume':>12} {'size':>5} {'mode':>6} {'gl ms':>8} {'array ms':>9} "
        f"{'vtk-gpu ms':>10} {'vtk-cpu ms':>10} {'gpu/gl':>7} {'cpu/gl':>7}"
    )
    nan = float("nan")
    for (spec, size_s, name), r in results.items():
        t_gl = r["gl"]
        t_vg, t_vc = r.get("vtk-gpu", nan), r.get("vtk-cpu", nan)
        print(
            f"{spec:>12} {size_s:>5} {name:>6} {t_gl:8.0f} {r.get('array', nan):9.0f} "
            f"{t_vg:10.0f} {t_vc:10.0f} {t_vg / t_gl:7.2f} {t_vc / t_gl:7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
