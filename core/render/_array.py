"""The array renderer: the GLSL ray-caster's maths on whole arrays of rays (numpy, or cupy when
a CUDA GPU is really there).

Every function here mirrors one in ``shaders/common.glsl`` or ``shaders/raycast.frag.glsl``;
texture sampling is done as OpenGL does it (texel centres at ``(i + 1/2) / n``, clamp to edge,
trilinear), so both renderers draw the same picture. All rays advance together one step at a
time; finished rays (early termination, left the volume) drop out of the active set, and
samples in empty bricks are not taken.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError
from ownscan.core.render._camera import Camera
from ownscan.core.render._gradient import FULL_BYTE, SOBEL_OFFSETS, SOBEL_SCALE
from ownscan.core.render._scene import Scene, VisualisationMode
from ownscan.core.render._setup import (
    BRICK,
    SHADE,
    SHADE_GAIN,
    Frame,
    PreparedVolume,
    frame_for,
    gradient_layout,
    gradient_texels,
    prepare_volume,
    to_uint8,
)

__all__ = ["ArrayContext", "ArrayRenderer", "array_module", "upscale_nearest"]

log = logging.getLogger(__name__)


def _cupy_if_usable() -> ModuleType | None:
    """cupy when a CUDA device answers: import, count devices, allocate a little."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        cupy.zeros(4, dtype=cupy.float32).sum().item()
        return cupy
    except Exception as exc:  # no cupy, no driver, no device: numpy it is
        log.debug("cupy not usable: %s", exc)
        return None


def array_module(prefer_gpu: bool = True) -> ModuleType:
    """cupy when ``prefer_gpu`` and a CUDA GPU is usable, else numpy."""
    if prefer_gpu:
        cp = _cupy_if_usable()
        if cp is not None:
            return cp
    return np


def _host(a: Any) -> npt.NDArray[Any]:
    return a.get() if hasattr(a, "get") else np.asarray(a)


class ArrayContext:
    """What an :class:`~ownscan.core.render.ArrayMode` may use: the GLSL helpers, on arrays.

    Attributes
    ----------
    xp
        numpy or cupy: use it for every array operation in a mode.
    ray_dir_lps, ray_dir_tex
        ``(n_rays, 3)``: each ray's unit direction in LPS and its texture-space step per mm
        (index them with the ``idx`` given to ``sample``).
    step_mm, window, invert
        As the GLSL uniforms ``u_step_mm``, ``u_window``, ``u_invert``.
    parameters
        The mode's parameters as its GLSL sees them (``u_<name>``; value parameters
        normalised), as float32.
    """

    def __init__(self, xp: ModuleType, prepared: PreparedVolume, frame: Frame) -> None:
        self.xp = xp
        self._data = xp.asarray(prepared.data).ravel()
        nx, ny, nz = prepared.dims
        self.dims = (nx, ny, nz)
        self._dims_f = xp.asarray([nx, ny, nz], dtype=xp.float32)
        self._lut = xp.asarray(frame.lut) if frame.lut is not None else None
        self.window = frame.window
        self.invert = frame.invert
        self.step_mm = np.float32(frame.step_mm)
        self.parameters = {k: np.float32(v) for k, v in frame.parameters.items()}
        self.shading = frame.shading
        self._grad_to_lps = xp.asarray(frame.grad_to_lps, dtype=xp.float32)
        # GL samples a precomputed gradient texture in shaded transfer-function modes (set by
        # cast_rays from the mode); the same texels are made here, sampled the same way
        self.gradient_texture = False
        self._gradient = gradient_layout(prepared)
        self._texels: Any = None  # the gradient texture, made on first use
        self.ray_dir_lps: Any = None
        self.ray_dir_tex: Any = None

    # -- sampling (GL: texture(u_volume, pos_tex).r, LINEAR, CLAMP_TO_EDGE) ---------------------
    def sample(self, pos_tex: Any) -> Any:
        """Trilinear samples at ``pos_tex`` ``(m, 3)``, as float32 in 0..1."""
        xp = self.xp
        nx, ny, nz = self.dims
        u = pos_tex * self._dims_f - np.float32(0.5)
        f0 = xp.floor(u)
        frac = (u - f0).astype(xp.float32)
        lo = f0.astype(xp.int64)
        hi = lo + 1
        lim = xp.asarray([nx - 1, ny - 1, nz - 1])
        lo = xp.clip(lo, 0, lim)
        hi = xp.clip(hi, 0, lim)
        d = self._data
        sxy = nx * ny
        out = xp.zeros(len(pos_tex), dtype=xp.float32)
        for ck, wk in ((lo[:, 2], 1 - frac[:, 2]), (hi[:, 2], frac[:, 2])):
            for cj, wj in ((lo[:, 1], 1 - frac[:, 1]), (hi[:, 1], frac[:, 1])):
                base = ck * sxy + cj * nx
                wkj = wk * wj
                out += wkj * (1 - frac[:, 0]) * d[base + lo[:, 0]]
                out += wkj * frac[:, 0] * d[base + hi[:, 0]]
        return out * np.float32(1.0 / 65535.0)

    def _gradient_texels(self, pos_tex: Any) -> Any:
        """Trilinear samples of the compact gradient texture (``gradient_texels`` in _setup,
        RGB8 snorm, read as byte / 127) at ``pos_tex`` ``(m, 3)``: ``(m, 3)`` in normalised
        units per voxel (``u_gradient_unit``).

        The texels are the very ones GL uploads (made once per frame with the same function),
        read at the same coordinates (``gradient_tex`` in common.glsl)."""
        xp = self.xp
        layout = self._gradient
        mx, my, mz = layout.texel_dims
        if self._texels is None:
            nx, ny, nz = self.dims
            q = _host(self._data).reshape(nz, ny, nx)
            self._texels = xp.asarray(gradient_texels(q, layout)).reshape(-1, 3)
        f32 = xp.float32
        texel_dims = xp.asarray([mx, my, mz], dtype=f32)
        scale = self._dims_f / (xp.asarray(layout.factors, dtype=f32) * texel_dims)
        snorm = self._trilinear(self._texels, pos_tex * scale, (mx, my, mz)) * np.float32(
            1.0 / FULL_BYTE
        )
        return snorm * xp.asarray(layout.units, dtype=f32)

    def _trilinear(self, texels: Any, pos_tex: Any, dims: tuple[int, int, int]) -> Any:
        """Trilinear samples ``(m, c)`` of ``texels`` ``(nx * ny * nz, c)`` of a texture of
        ``dims`` ``(nx, ny, nz)`` (GL's LINEAR, CLAMP_TO_EDGE) at its coordinates ``pos_tex``
        ``(m, 3)``, in texel units."""
        xp = self.xp
        nx, ny, nz = dims
        u = pos_tex * xp.asarray(dims, dtype=xp.float32) - np.float32(0.5)
        f0 = xp.floor(u)
        frac = (u - f0).astype(xp.float32)
        lim = xp.asarray([nx - 1, ny - 1, nz - 1])
        lo = xp.clip(f0.astype(xp.int64), 0, lim)
        hi = xp.clip(f0.astype(xp.int64) + 1, 0, lim)
        out = xp.zeros((len(pos_tex), texels.shape[1]), dtype=xp.float32)
        for ck, wk in ((lo[:, 2], 1 - frac[:, 2]), (hi[:, 2], frac[:, 2])):
            for cj, wj in ((lo[:, 1], 1 - frac[:, 1]), (hi[:, 1], frac[:, 1])):
                for ci, wi in ((lo[:, 0], 1 - frac[:, 0]), (hi[:, 0], frac[:, 0])):
                    w = (wk * wj * wi)[:, None]
                    out += w * texels[ck * (nx * ny) + cj * nx + ci].astype(xp.float32)
        return out

    def gradient_lps(self, pos_tex: Any) -> Any:
        """The Sobel gradient (``_gradient``), carried to LPS per mm: ``(m, 3)``."""
        xp = self.xp
        if self.gradient_texture:
            return self._gradient_texels(pos_tex) @ self._grad_to_lps.T
        # the full-resolution Sobel gradient from 26 fetches: iso's hit normal (the shaded
        # transfer-function modes read the texture above, as GL does within its budget)
        d_tex = np.float32(1.0) / self._dims_f
        g_ijk = xp.zeros((len(pos_tex), 3), dtype=xp.float32)
        for offset, weight in SOBEL_OFFSETS:  # GLSL's order of offsets
            o = xp.asarray(offset, dtype=xp.float32)
            v = self.sample(pos_tex + o * d_tex)
            g_ijk += v[:, None] * xp.asarray(weight, dtype=xp.float32)
        return (g_ijk * np.float32(SOBEL_SCALE)) @ self._grad_to_lps.T

    def transfer(self, value: Any) -> Any:
        """RGBA ``(m, 4)`` of the transfer function (linear between the 256 entries), the
        opacity that of one step (``Frame.lut``, as GLSL's ``transfer``)."""
        if self._lut is None:
            raise ValueError("this scene has no transfer function")
        xp = self.xp
        x = xp.clip(value * np.float32(255.0), 0, 255)
        i0 = xp.floor(x).astype(xp.int64)
        f = (x - i0)[:, None]
        i1 = xp.minimum(i0 + 1, 255)
        return self._lut[i0] * (1 - f) + self._lut[i1] * f

    def window_level(self, value: Any) -> Any:
        """Grey 0..1 of normalised values through the window (inverted for MONOCHROME1)."""
        lo, hi = self.window
        g = self.xp.clip((value - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0)
        return 1.0 - g if self.invert else g

    def shade_full(self, color: Any, grad_lps: Any, dir_lps: Any) -> Any:
        """Headlight Blinn-Phong, two-sided (``shade_full`` in common.glsl)."""
        xp = self.xp
        ka, kd, ks, shininess = (np.float32(s) for s in SHADE)
        g = xp.linalg.norm(grad_lps, axis=1)
        safe = xp.where(g > 0, g, 1).astype(xp.float32)
        d = xp.abs(xp.sum((grad_lps / safe[:, None]) * -dir_lps, axis=1))
        lit = color * (ka + kd * d)[:, None] + (ks * d**shininess)[:, None]
        flat = color * (ka + kd)
        return xp.where((g > 0)[:, None], lit, flat)

    def shade(self, color: Any, grad_lps: Any, dir_lps: Any) -> Any:
        """Shading weighted by gradient strength (``shade`` in common.glsl)."""
        xp = self.xp
        w = xp.clip(xp.linalg.norm(grad_lps, axis=1) * np.float32(SHADE_GAIN), 0, 1)[:, None]
        return color * (1 - w) + self.shade_full(color, grad_lps, dir_lps) * w


def _rays(frame: Frame, xp: ModuleType) -> tuple[Any, Any, Any, Any]:
    """Origin (tex), direction (tex per mm), direction (LPS) and origin (LPS) of every pixel's
    ray, float32, bottom row first (as GL's gl_FragCoord)."""
    f32 = xp.float32
    w, h = frame.width, frame.height
    ndc_x = (xp.arange(w, dtype=f32) + f32(0.5)) / f32(w) * f32(2) - f32(1)
    ndc_y = (xp.arange(h, dtype=f32) + f32(0.5)) / f32(h) * f32(2) - f32(1)
    ndc_x, ndc_y = (a.ravel() for a in xp.meshgrid(ndc_x, ndc_y))
    b = xp.asarray(frame.basis_lps, dtype=f32)
    right, up, back = b[:, 0], b[:, 1], b[:, 2]
    centre = xp.asarray(frame.centre_lps, dtype=f32)
    pan_x, pan_y = (f32(p) for p in frame.pan_mm)
    half_x, half_y = (f32(v) for v in frame.half_mm)
    focal = (
        centre + right * (pan_x + ndc_x * half_x)[:, None] + up * (pan_y + ndc_y * half_y)[:, None]
    )
    eye = f32(frame.eye_distance_mm)
    if frame.perspective:
        origin = xp.broadcast_to(centre + right * pan_x + up * pan_y + back * eye, focal.shape)
        d = focal - origin
        dir_lps = d / xp.linalg.norm(d, axis=1, keepdims=True)
    else:
        origin = focal + back * eye
        dir_lps = xp.broadcast_to(-back, focal.shape)
    m = xp.asarray(frame.lps_to_tex, dtype=f32)
    origin_tex = origin @ m[:3, :3].T + m[:3, 3]
    dir_tex = dir_lps @ m[:3, :3].T
    return (
        origin_tex.astype(f32),
        dir_tex.astype(f32),
        xp.ascontiguousarray(dir_lps, dtype=f32),
        xp.ascontiguousarray(origin, dtype=f32),
    )


def ray_offsets(width: int, height: int, xp: ModuleType = np) -> Any:
    """Each pixel's ray start offset in [0, 1) for jittered modes, bottom row first: the GLSL
    skeleton's ``ray_offset()`` (Wellons' lowbias32 hash of ``x + 65536 y``, 24 bits), exactly."""
    u32 = xp.uint32
    x = xp.arange(width, dtype=u32)[None, :] + xp.arange(height, dtype=u32)[:, None] * u32(65536)
    x = x.ravel()
    x ^= x >> u32(16)
    x *= u32(0x7FEB352D)
    x ^= x >> u32(15)
    x *= u32(0x846CA68B)
    x ^= x >> u32(16)
    return (x >> u32(8)).astype(xp.float32) * xp.float32(1.0 / 16777216.0)


def _intersect_box(origin: Any, inv_dir: Any, lo: Any, hi: Any, xp: ModuleType) -> tuple[Any, Any]:
    t_a = (lo - origin) * inv_dir
    t_b = (hi - origin) * inv_dir
    return xp.minimum(t_a, t_b).max(axis=1), xp.maximum(t_a, t_b).min(axis=1)


def cast_rays(
    prepared: PreparedVolume, frame: Frame, mode: VisualisationMode, xp: ModuleType = np
) -> npt.NDArray[np.float32]:
    """Premultiplied float RGBA ``(h, w, 4)`` (bottom row first) of ``mode`` over ``frame``."""
    if mode.array is None:
        raise OwnscanError(f"mode {mode.name!r} has no array implementation (OpenGL only)")
    array = mode.array
    f32 = xp.float32
    origin_tex, dir_tex, dir_lps, origin_lps = _rays(frame, xp)
    n_rays = len(origin_tex)
    safe = xp.where(dir_tex == 0, f32(1e-12), dir_tex)
    inv_dir = (f32(1) / safe).astype(f32)
    lo = xp.asarray(frame.box_lo_tex, dtype=f32)
    hi = xp.asarray(frame.box_hi_tex, dtype=f32)
    t_near, t_far = _intersect_box(origin_tex, inv_dir, lo, hi, xp)
    t_entry = xp.maximum(t_near, f32(0))
    t_exit = t_far
    ctx = ArrayContext(xp, prepared, frame)
    ctx.ray_dir_lps, ctx.ray_dir_tex = dir_lps, dir_tex
    ctx.gradient_texture = bool(frame.shading and mode.uses_transfer_function)
    acc = xp.zeros((n_rays, 4), dtype=f32)
    aux = xp.zeros((n_rays, 4), dtype=f32)
    array.begin(acc, aux)
    hit = t_exit > t_entry
    step = f32(frame.step_mm)
    if mode.slab:
        back = xp.asarray(frame.basis_lps[:, 2], dtype=f32)
        dn = dir_lps @ back
        hit &= xp.abs(dn) > f32(1e-6)
        plane = xp.asarray(frame.plane_lps, dtype=f32)
        t_plane = xp.where(hit, ((plane - origin_lps) @ back) / xp.where(hit, dn, 1), 0)
        t_plane = t_plane.astype(f32)
        if frame.slab_half_mm <= 0:
            hit &= (t_plane >= t_entry) & (t_plane < t_exit)
            idx = xp.nonzero(hit)[0]
            pos = origin_tex[idx] + t_plane[idx, None] * dir_tex[idx]
            array.sample(acc, aux, idx, pos, ctx)
            return _host(array.end(acc, aux, hit, ctx)).reshape(frame.height, frame.width, 4)
        half_t = (f32(frame.slab_half_mm) / xp.abs(xp.where(hit, dn, 1))).astype(f32)
        t_entry = xp.where(hit, xp.maximum(t_entry, t_plane - half_t), t_entry)
        t_exit = xp.where(hit, xp.minimum(t_exit, t_plane + half_t), t_exit)
        hit &= t_exit > t_entry
    occupancy = xp.asarray(frame.occupancy) if frame.occupancy is not None else None
    active = xp.nonzero(hit)[0]
    offset = (
        ray_offsets(frame.width, frame.height, xp)
        if mode.jitter and not mode.slab
        else xp.full(n_rays, f32(0.5), dtype=f32)
    )
    dims = ctx._dims_f
    for n in range(frame.max_steps):
        if len(active) == 0:
            break
        t = t_entry[active] + (f32(n) + offset[active]) * step
        inside = t < t_exit[active]
        active, t = active[inside], t[inside]
        pos = origin_tex[active] + t[:, None] * dir_tex[active]
        idx = active
        if occupancy is not None:
            nbz, nby, nbx = occupancy.shape
            brick = xp.floor(pos * dims / f32(BRICK)).astype(xp.int64)
            brick = xp.clip(brick, 0, xp.asarray([nbx - 1, nby - 1, nbz - 1]))
            full = occupancy[brick[:, 2], brick[:, 1], brick[:, 0]] > 0
            idx, pos = idx[full], pos[full]
        if len(idx):
            done = array.sample(acc, aux, idx, pos, ctx)
            if done.any():
                finished = xp.zeros(n_rays, dtype=bool)
                finished[idx[done]] = True
                active = active[~finished[active]]
    rgba = array.end(acc, aux, hit, ctx)
    return _host(rgba).reshape(frame.height, frame.width, 4)


def upscale_nearest(image: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """``image`` ``(h, w, 4)`` enlarged to ``size`` = (w, h) by repeating pixels."""
    w, h = size
    rows = (np.arange(h) * image.shape[0] // h).clip(0, image.shape[0] - 1)
    cols = (np.arange(w) * image.shape[1] // w).clip(0, image.shape[1] - 1)
    return np.ascontiguousarray(image[rows][:, cols])


class ArrayRenderer:
    """Draws a scene with arrays: numpy on the CPU, cupy on a CUDA GPU when one is usable.

    Parameters
    ----------
    prefer_gpu
        Use cupy when a CUDA device answers (import, device count and a tiny allocation are
        tried, any failure means numpy).
    """

    name = "cpu"

    def __init__(self, prefer_gpu: bool = True) -> None:
        self.xp = array_module(prefer_gpu)
        self.name = "cupy" if self.xp is not np else "cpu"
        self.notes: list[str] = []

    def render(
        self,
        scene: Scene,
        camera: Camera,
        size: tuple[int, int],
        interactive: bool = False,
    ) -> npt.NDArray[np.uint8]:
        """RGBA uint8 ``(h, w, 4)``, top row first, premultiplied over black.

        ``interactive`` draws a quick pass (half the rays per side, twice the step) for use
        while the user drags; the result is enlarged to ``size``.
        """
        if scene.mode.array is None:
            raise OwnscanError(
                f"mode {scene.mode.name!r} draws only with OpenGL (it has no array "
                f"implementation); the {self.name} renderer cannot draw it: use --backend gl"
            )
        prepared = prepare_volume(scene.volume)
        self.notes = list(prepared.notes)
        w, h = int(size[0]), int(size[1])
        rw, rh = (max(1, w // 2), max(1, h // 2)) if interactive else (w, h)
        frame = frame_for(prepared, scene, camera, (rw, rh), interactive)
        img = to_uint8(cast_rays(prepared, frame, scene.mode, self.xp))
        return upscale_nearest(img, (w, h)) if (rw, rh) != (w, h) else img

    def close(self) -> None:
        """Nothing to release (for symmetry with the GL renderer)."""
