"""vispy's Volume visual as a peer of ownscan's MIP: the same volume, sampling and framing.

vispy draws through its own EGL context, which would leave ownscan's unusable in the same
process (as VTK's does), and it wants ``EGL_PLATFORM=surfaceless`` to start without a display:
so each measurement runs in a child, ``python -m ownscan.core.bench._vispy SPEC W H STEP_VOX
SCALE REPEAT``, which makes the same generated CT
(:func:`~ownscan.core.bench._render.bench_volume`) and prints one JSON line.

Equal sampling: vispy steps ``relative_step_size`` voxels along each ray (measured in voxel
units), ownscan ``step_mm`` millimetres; the parent passes ``step_mm`` times the ray's voxels
per millimetre. Equal framing: an orthographic turntable camera looking along the same axis,
the same height in millimetres, the voxel spacing as the visual's scale. The window's ends are
vispy's ``clim``. The data go to vispy as float32 (what its Volume visual samples).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

import numpy as np

from ownscan.core.bench._memory import json_child

__all__ = ["TEXTURE_LIMIT", "vispy_available", "vispy_mip_ms"]

# vispy keeps the volume as a float32 texture; llvmpipe refuses 3D textures above ~1.6 GiB
TEXTURE_LIMIT = 3 << 29  # 1.5 GiB


def vispy_available() -> bool:
    """Whether vispy (a peer of the MIP rows, ``pip install ownscan[bench]``) is installed."""
    return importlib.util.find_spec("vispy") is not None


def vispy_mip_ms(
    spec: str,
    size: tuple[int, int],
    step_voxels: float,
    height_mm: float,
    repeat: int,
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """ms per MIP frame of vispy (median of ``repeat`` after a warm-up frame) on the bench CT
    ``spec`` seen from the front (along ``j``), ``height_mm`` high: ``{"ms": ...}``, or
    ``{"error": why}``."""
    args = [spec, str(size[0]), str(size[1])]
    args += [str(float(step_voxels)), str(float(height_mm)), str(repeat)]
    env = dict(os.environ, EGL_PLATFORM="surfaceless")
    result, _ = json_child(__name__, args, timeout_s, env)
    if "error" in result:
        result["error"] = f"vispy: {result['error']}"
    return result


def _child(spec: str, w: str, h: str, step: str, height: str, repeat: str) -> None:
    import vispy

    vispy.use(app="egl")
    from vispy import scene
    from vispy.scene import visuals
    from vispy.visuals.transforms import STTransform

    from ownscan.core.bench._render import WINDOW, bench_volume, time_ms

    volume = bench_volume(spec)
    data = volume.voxels.astype(np.float32)
    if data.nbytes > TEXTURE_LIMIT:
        print(json.dumps({"error": f"float32 texture of {data.nbytes / 2**30:.1f} GiB"}))
        return
    sx, sy, sz = volume.spacing
    del volume  # only the float32 copy is needed from here
    lo, hi = WINDOW.level - WINDOW.width / 2, WINDOW.level + WINDOW.width / 2
    canvas = scene.SceneCanvas(size=(int(w), int(h)), show=False, bgcolor="black")
    view = canvas.central_widget.add_view()
    vis = visuals.Volume(
        data, parent=view.scene, method="mip", clim=(lo, hi), relative_step_size=float(step)
    )
    vis.transform = STTransform(scale=(sx, sy, sz))
    nz, ny, nx = data.shape
    centre = (nx * sx / 2, ny * sy / 2, nz * sz / 2)
    # orthographic, looking along the volume's j axis (rows: anterior-posterior), z up
    view.camera = scene.TurntableCamera(fov=0, elevation=0.0, azimuth=0.0, center=centre)
    view.camera.scale_factor = float(height)
    image = canvas.render()
    if os.environ.get("OWNSCAN_BENCH_VISPY_PNG"):  # to look at the framing
        from PIL import Image

        Image.fromarray(image[..., :3]).save(os.environ["OWNSCAN_BENCH_VISPY_PNG"])
    drawn = float((image[..., :3] > 0).mean())
    ms = time_ms(canvas.render, int(repeat))
    print(json.dumps({"ms": ms, "drawn": drawn}))


if __name__ == "__main__":
    _child(*sys.argv[1:7])
