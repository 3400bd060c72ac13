"""The render measurements: ms per frame of ownscan's renderers beside VTK's, first frame.

Measured in one process, one after another: ownscan GL (moderngl; llvmpipe without a GPU),
ownscan's array renderer (numpy, or cupy on CUDA), VTK's vtkGPUVolumeRayCastMapper and
vtkFixedPointVolumeRayCastMapper (offscreen through EGL; ``pip install ownscan[bench]``), all
with one sample per smallest voxel spacing, automatic sample-distance adjustment off, the same
image size and framing. Each number is the median of ``repeat`` frames after one warm-up frame
(texture upload and shader compilation excluded), including the read-back of the pixels.
Used by ``ownscan bench`` and ``benchmarks/bench_render.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ownscan.core.bench._vispy import vispy_available, vispy_mip_ms
from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import (
    ArrayRenderer,
    Camera,
    GLRenderer,
    Renderer,
    Scene,
    frame_for,
    prepare_volume,
)
from ownscan.core.render.phantom import ct_phantom
from ownscan.core.volume import Volume, WindowPreset

__all__ = [
    "ISO_HU",
    "MODES",
    "WINDOW",
    "VtkScene",
    "bench_volume",
    "first_frame_ms",
    "gpu_target",
    "measure_render",
    "render_path_ms",
    "time_ms",
    "upload_ms",
    "vtk_available",
]

MODES = ("mpr", "mip", "minip", "xray", "dvr", "iso")
ISO_HU = 300.0
WINDOW = WindowPreset("bone", 2000.0, 300.0)


def vtk_available() -> bool:
    """Whether VTK (the peer of the render rows) is installed."""
    import importlib.util

    return importlib.util.find_spec("vtk") is not None


def bench_volume(spec: str) -> Volume:
    """The generated chest CT of ``spec``: ``"256"`` (256^3, 1.2 mm) or ``"NXxNYxNZ"``
    (0.7 x 0.7 x 1.0 mm): body, fat, lungs, heart, liver, contrast aorta, spine, ribs, noise;
    int16, made slice by slice."""
    if spec == "256":
        return ct_phantom((256, 256, 256), spacing=(1.2, 1.2, 1.2))
    nx, ny, nz = (int(v) for v in spec.lower().split("x"))
    return ct_phantom((nz, ny, nx), spacing=(0.7, 0.7, 1.0))


def time_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median ms of ``repeat`` calls of ``fn`` after one warm-up call."""
    fn()  # warm-up: upload, compile
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


@functools.cache
def _plugins() -> tuple[dict[str, Any], Any]:
    """The modes by name and the ct-bone transfer function (one plugin host per process)."""
    host = PluginHost()
    modes = {m.name: m for m in host.modes()}
    return modes, {t.name: t for t in host.transfer_functions()}["ct-bone"]


def _scene(volume: Volume, mode: str) -> tuple[Scene, Camera]:
    modes, tf = _plugins()
    scene = Scene(
        volume,
        modes[mode],
        window=WINDOW,
        transfer_function=tf,
        parameters={"iso_value": ISO_HU} if mode == "iso" else {},
    )
    return scene, Camera.for_plane("axial" if mode == "mpr" else "anterior")


def first_frame_ms(volume: Volume, mode: str, size: tuple[int, int]) -> dict[str, float]:
    """ms from a loaded volume to its first GL pictures, each time in a fresh renderer and on
    a new Volume sharing ``volume``'s voxels (preparations are cached per Volume: each run
    quantises and bounds the volume itself, whatever was drawn before). Drawn as the viewer
    shows a series, the quick pass first (``interactive``: half the rays per side, twice the
    step), then the full frame: ``"upload"`` (the textures and block bounds),
    ``"first_picture"`` (to the quick pass), ``"first_full_frame"`` (to the full frame after
    it); and as ``ownscan render`` draws it, the full frame at once: ``"full_frame_only"``.
    Each includes the upload, and the pictures the gradient, skip tables and shader
    compilation they need."""
    ms: dict[str, float] = {}
    for quick in (True, False):
        own = dataclasses.replace(volume)
        scene, cam = _scene(own, mode)
        gl = GLRenderer()
        try:
            t0 = time.perf_counter()
            gl.upload(own)
            t1 = time.perf_counter()
            if quick:
                gl.render(scene, cam, size, interactive=True)
                t2 = time.perf_counter()
                gl.render(scene, cam, size)
                t3 = time.perf_counter()
                ms.update(upload=t1 - t0, first_picture=t2 - t0, first_full_frame=t3 - t0)
            else:
                gl.render(scene, cam, size)
                ms["full_frame_only"] = time.perf_counter() - t0
        finally:
            gl.close()
    return {name: 1000.0 * s for name, s in ms.items()}


def render_path_ms(
    folder: Path, mode: str, size: tuple[int, int], repeat: int
) -> dict[str, list[float]]:
    """ms of ``ownscan render``'s path over the series in ``folder``, in this process, each
    of ``repeat`` runs (alternated, after one load that warms the page cache) with a fresh
    renderer: ``"load"``, its headers read and its voxels loaded (file-backed, as the command
    loads them) alone; ``"whole"``, the same with the GL renderer made meanwhile (the context
    and the mode's program: :func:`~ownscan.core.render._ahead.load_while_ready`) and the
    full frame drawn at once (upload, skip tables, read-back; not the PNG); ``"after"``, the
    part of ``"whole"`` after its load had ended (the first frame as the user waits for it
    after the load, whatever was hidden in the load); ``"serial"`` and ``"serial_after"``,
    the same with the renderer made after the load (as before it was made meanwhile)."""
    from ownscan.core.assembly import Series, assemble
    from ownscan.core.render._ahead import load_while_ready
    from ownscan.core.render._pages import load_file_backed

    drawn = _plugins()[0][mode]
    loaded_at: list[float] = []

    def timed_load(series: Series, index: int = 0) -> Volume:
        volume = load_file_backed(series, index)
        loaded_at.append(time.perf_counter())
        return volume

    def frame(t0: float, volume: Volume, renderer: Renderer) -> tuple[float, float]:
        try:
            renderer.render(*_scene(volume, mode), size)
            t1 = time.perf_counter()
            return 1000.0 * (t1 - t0), 1000.0 * (t1 - loaded_at[-1])
        finally:
            renderer.close()

    load_file_backed(assemble(folder).series[0])  # the page cache warm for all
    keys = ("load", "whole", "after", "serial", "serial_after")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        timed_load(assemble(folder).series[0])
        out["load"].append(1000.0 * (loaded_at[-1] - t0))
        t0 = time.perf_counter()
        series = assemble(folder).series[0]
        volume, gl = load_while_ready(series, 0, GLRenderer, drawn, load=timed_load)
        whole, after = frame(t0, volume, gl if gl is not None else GLRenderer())
        out["whole"].append(whole)
        out["after"].append(after)
        del volume
        t0 = time.perf_counter()  # as before: the renderer made once the voxels are there
        volume = timed_load(assemble(folder).series[0])
        whole, after = frame(t0, volume, GLRenderer())
        out["serial"].append(whole)
        out["serial_after"].append(after)
        del volume
    return out


def upload_ms(volume: Volume) -> dict[str, float]:
    """ms to put ``volume`` into GL textures (``GLRenderer.upload`` until the GL has finished),
    each in a fresh renderer: ``fresh``, the volume as never drawn (its quantisation, block
    bounds and value range made as the slabs are written: one pass), then ``prepared``, the
    same again with its preparation cached (the textures alone: allocation and writes).
    Measured on a new Volume sharing ``volume``'s voxels, so that ``volume``'s own cached
    preparation is neither used nor made."""
    own = dataclasses.replace(volume)  # a new identity: preparations are cached per Volume
    out = {}
    for kind in ("fresh", "prepared"):
        gl = GLRenderer()
        try:
            t0 = time.perf_counter()
            gl.upload(own)
            with gl.ctx:
                gl.ctx.finish()
            out[kind] = (time.perf_counter() - t0) * 1000.0
        finally:
            gl.close()
    return out


def measure_render(
    volumes: Iterable[tuple[str, Volume | Callable[[], Volume]]],
    sizes: Iterable[tuple[int, int]],
    modes: Iterable[str],
    repeat: int,
    cpu_sizes: Iterable[tuple[int, int]] = (),
    vtk: bool = True,
    report: Callable[[str], None] = print,
    vispy: bool = True,
) -> dict[tuple[str, tuple[int, int], str], dict[str, float]]:
    """ms per frame, ``{(volume spec, (w, h), mode): {tool: ms}}``; tools ``gl``, ``array``
    (at ``cpu_sizes`` only: slow), ``vtk-gpu``, ``vtk-cpu`` (when ``vtk`` and installed) and,
    for mip on a bench CT (``spec`` given to :func:`bench_volume` again in a child),
    ``vispy`` (when installed; :mod:`ownscan.core.bench._vispy`).

    All of ownscan first, VTK after: once VTK's EGL window has run, our context is unusable.
    A volume given as a callable is made when needed (and again for VTK), not kept."""
    sizes, modes, cpu_sizes = list(sizes), list(modes), set(cpu_sizes)
    volumes = list(volumes)
    tf = _plugins()[1]
    gl = GLRenderer()
    cpu = ArrayRenderer()
    report(f"ownscan GL: {gl.renderer_string}; array renderer: {cpu.name}; {os.cpu_count()} CPUs")
    results: dict[tuple[str, tuple[int, int], str], dict[str, float]] = {}
    frames = {}
    voxels_per_mm: dict[str, float] = {}
    for spec, make in volumes:
        volume = make() if callable(make) else make
        report(f"{spec}: {volume.describe()}")
        for size in sizes:
            for name in modes:
                scene, cam = _scene(volume, name)
                r = results.setdefault((spec, size, name), {})
                r["gl"] = time_ms(functools.partial(gl.render, scene, cam, size), repeat)
                if size in cpu_sizes:
                    r["array"] = time_ms(functools.partial(cpu.render, scene, cam, size), 1)
                frames[(spec, size, name)] = frame_for(prepare_volume(volume), scene, cam, size)
                report(f"  {size[0]}x{size[1]} {name}: {r}")
        if "mip" in modes:  # vispy steps in voxels: ours (mm) times the ray's voxels per mm
            back = frames[(spec, sizes[0], "mip")].basis_lps[:, 2]
            per_mm = np.linalg.solve(volume.affine[:3, :3], back)
            voxels_per_mm[spec] = float(np.linalg.norm(per_mm))
        del volume
    gl.close()
    for spec, _ in volumes if vispy and "mip" in modes and vispy_available() else []:
        for size in sizes:
            frame = frames[(spec, size, "mip")]
            step = frame.step_mm * voxels_per_mm[spec]
            got = vispy_mip_ms(spec, size, step, 2 * frame.half_mm[1], repeat)
            if "ms" in got:
                results[(spec, size, "mip")]["vispy"] = got["ms"]
            report(f"  {spec} {size[0]}x{size[1]} mip: vispy {got.get('ms', got.get('error'))}")
    for spec, make in volumes if vtk and vtk_available() else []:
        volume = make() if callable(make) else make
        for name in modes:
            if name == "mpr":
                continue  # a slice is not a volume-mapper job
            for gpu in (True, False):
                if not gpu and name in ("xray", "iso"):
                    continue  # the fixed-point mapper has no such blend mode
                vs = None
                for size in sizes:
                    frame = frames[(spec, size, name)]
                    if vs is None:
                        vs = VtkScene(volume, name, frame.step_mm, tf, gpu)
                    vs.frame((frame.width, frame.height), frame.centre_lps, frame.half_mm[1])
                    key = "vtk-gpu" if gpu else "vtk-cpu"
                    r = results[(spec, size, name)]
                    r[key] = time_ms(vs.render, repeat)
                    report(f"  {spec} {size[0]}x{size[1]} {name}: {key} {r[key]:.0f}")
                if vs is not None:
                    vs.close()
        del volume
    return results


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
    t0 = time.perf_counter()
    volume = ct_phantom((1000, 512, 512), spacing=(0.7, 0.7, 0.5))
    print(f"volume: {volume.describe()} (generated in {time.perf_counter() - t0:.1f} s)")
    gl = GLRenderer()
    print(f"ownscan GL: {gl.renderer_string}")
    scene, cam = _scene(volume, "dvr")
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
        ms = time_ms(fn, repeat)
        print(f"  1920x1080 dvr {name:>26}: {ms:8.1f} ms  {1000.0 / ms:7.1f} fps  (target 60)")
    gl.close()
