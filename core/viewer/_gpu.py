"""The viewer's GL side: the volume texture, the slice views and the built-in 3D view.

Everything here draws into the framebuffer that is bound (the window's, in the viewer) inside
a viewport given in framebuffer pixels with a top-left origin; GL's bottom-left origin is
handled in :func:`gl_viewport`. The 3D view is rendered into an offscreen texture at a
quality-dependent size and then drawn scaled into its viewport, so it is only re-rendered when
its camera, mode or window changes (on software GL a ray-cast frame costs tens of ms; the
slice views cost almost nothing).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass

import moderngl
import numpy as np
import numpy.typing as npt

from ownscan.core.viewer._geometry import PlaneAxes, px_to_tex_matrix
from ownscan.core.viewer._layout import Rect
from ownscan.core.volume import Volume

__all__ = [
    "MODES_3D",
    "GpuVolume",
    "RaycastView",
    "SliceDrawer",
    "TransferPreset",
    "TF_PRESETS",
    "gl_viewport",
    "load_shader",
]

# the built-in 3D modes, in the order the number keys select them
MODES_3D: tuple[str, ...] = ("dvr", "mip", "iso", "minip", "xray")


@functools.cache
def load_shader(name: str) -> str:
    """Text of ``shaders/NAME`` (package data of ``ownscan.shaders``)."""
    return importlib.resources.files("ownscan.shaders").joinpath(name).read_text("utf-8")


def _program(ctx: moderngl.Context, name: str, defines: Sequence[str] = ()) -> moderngl.Program:
    src = load_shader(name)
    head = "#version 330\n" + "".join(f"#define {d}\n" for d in defines)
    return ctx.program(
        vertex_shader=head + "#define VERTEX_SHADER\n" + src,
        fragment_shader=head + "#define FRAGMENT_SHADER\n" + src,
    )


def _set(prog: moderngl.Program, name: str, value: object) -> None:
    """Set a uniform if the compiler kept it (removed uniforms raise KeyError)."""
    if name in prog:
        prog[name].value = value  # type: ignore[union-attr]


def _mat(m: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """A numpy matrix as GL wants it: column-major floats."""
    return tuple(float(x) for x in np.asarray(m, dtype=np.float64).T.ravel())


def gl_viewport(ctx: moderngl.Context, rect: Rect, fb_height: int) -> None:
    """Set the GL viewport (and scissor) to ``rect`` (top-left origin) in a framebuffer."""
    vp = (rect.x, fb_height - rect.y - rect.h, rect.w, rect.h)
    ctx.viewport = vp
    ctx.scissor = vp


@dataclass(frozen=True)
class TransferPreset:
    """Colour/opacity for the 3D view over a value range, and the isosurface value.

    ``stops`` are ``(position 0..1 within [lo, hi], r, g, b, opacity)``.
    """

    name: str
    lo: float
    hi: float
    stops: tuple[tuple[float, float, float, float, float], ...]
    iso: float

    def table(self, n: int = 256) -> npt.NDArray[np.float32]:
        """The transfer function sampled at ``n`` points: ``(n, 4)`` RGBA in 0..1."""
        pos = np.array([s[0] for s in self.stops])
        x = np.linspace(0.0, 1.0, n)
        cols = [np.interp(x, pos, [s[c] for s in self.stops]) for c in range(1, 5)]
        return np.stack(cols, axis=1).astype(np.float32)


TF_PRESETS: tuple[TransferPreset, ...] = (
    TransferPreset(
        "ct-bone",
        100.0,
        1200.0,
        ((0.0, 0.6, 0.3, 0.2, 0.0), (0.15, 0.9, 0.7, 0.5, 0.08), (0.5, 1.0, 0.95, 0.85, 0.5),
         (1.0, 1.0, 1.0, 1.0, 0.9)),
        300.0,
    ),
    TransferPreset(
        "ct-skin",
        -500.0,
        500.0,
        ((0.0, 0.5, 0.3, 0.2, 0.0), (0.35, 0.9, 0.65, 0.5, 0.0), (0.45, 0.95, 0.7, 0.55, 0.15),
         (0.7, 0.9, 0.4, 0.35, 0.2), (1.0, 1.0, 1.0, 0.95, 0.8)),
        -300.0,
    ),
    TransferPreset(
        "window",  # the current window as a grey ramp: works for every modality (MR)
        float("nan"),
        float("nan"),
        ((0.0, 0.0, 0.0, 0.0, 0.0), (0.3, 0.5, 0.45, 0.4, 0.02), (1.0, 1.0, 1.0, 1.0, 0.6)),
        float("nan"),
    ),
)


class GpuVolume:
    """A Volume's voxels as a 3D texture, with the mapping back to stored values.

    int16 is uploaded as 16-bit unsigned-normalised with the sign bit flipped (exact, no float
    copy); uint16 and uint8 as normalised integers; anything else as float32. moderngl's
    ``'u2'`` would be an integer texture that a ``sampler3D`` reads as 0, hence ``'nu2'``.
    """

    def __init__(self, ctx: moderngl.Context, volume: Volume) -> None:
        v = volume.voxels
        if volume.samples != 1:
            # colour images are shown through their luminance
            v = (v[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        z, y, x = volume.shape
        max3d = int(ctx.info["GL_MAX_3D_TEXTURE_SIZE"])
        if max(x, y, z) > max3d:
            raise ValueError(
                f"{volume.info.series_description or 'volume'}: {x}x{y}x{z} exceeds this GPU's "
                f"3D texture limit {max3d}"
            )
        if v.dtype == np.int16:
            data = np.ascontiguousarray(v).view(np.uint16) ^ np.uint16(0x8000)
            dtype, scale, offset = "nu2", 65535.0, -32768.0
        elif v.dtype == np.uint16:
            data, dtype, scale, offset = np.ascontiguousarray(v), "nu2", 65535.0, 0.0
        elif v.dtype == np.uint8:
            data, dtype, scale, offset = np.ascontiguousarray(v), "nu1", 255.0, 0.0
        else:
            data, dtype, scale, offset = np.ascontiguousarray(v, dtype=np.float32), "f4", 1.0, 0.0
        self.volume = volume
        self.value_scale = scale
        self.value_offset = offset
        self.texture = ctx.texture3d((x, y, z), 1, data.tobytes(), dtype=dtype, alignment=1)
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = self.texture.repeat_z = False

    def release(self) -> None:
        self.texture.release()


class _Quad:
    """A full-viewport quad (two triangles) for one program."""

    def __init__(self, ctx: moderngl.Context, prog: moderngl.Program) -> None:
        verts = np.array([-1, -1, 1, -1, -1, 1, -1, 1, 1, -1, 1, 1], dtype=np.float32)
        self.vbo = ctx.buffer(verts.tobytes())
        self.vao = ctx.vertex_array(prog, [(self.vbo, "2f", "a_pos_ndc")])

    def draw(self) -> None:
        self.vao.render(moderngl.TRIANGLES)

    def release(self) -> None:
        self.vao.release()
        self.vbo.release()


class SliceDrawer:
    """Draws a resliced plane of a :class:`GpuVolume` with window/level into a viewport."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.prog = _program(ctx, "viewer_slice.glsl")
        self.quad = _Quad(ctx, self.prog)

    def draw(
        self,
        gv: GpuVolume,
        rect: Rect,
        fb_height: int,
        plane: PlaneAxes,
        centre_lps: npt.ArrayLike,
        mm_per_px: float,
        window: tuple[float, float],
    ) -> None:
        """Draw one 2D view. ``window`` is ``(width, level)`` in the volume's units."""
        width, level = window
        m = px_to_tex_matrix(gv.volume, rect.size, centre_lps, plane, mm_per_px)
        gl_viewport(self.ctx, rect, fb_height)
        gv.texture.use(0)
        p = self.prog
        _set(p, "u_volume", 0)
        _set(p, "u_size_px", (float(rect.w), float(rect.h)))
        _set(p, "u_px_to_tex", _mat(m))
        _set(p, "u_value_scale", gv.value_scale)
        _set(p, "u_value_offset", gv.value_offset)
        _set(p, "u_window_lo", level - width / 2.0)
        _set(p, "u_window_hi", level + width / 2.0)
        _set(p, "u_invert", bool(gv.volume.invert))
        self.quad.draw()

    def release(self) -> None:
        self.quad.release()
        self.prog.release()


class RaycastView:
    """The built-in 3D view: renders into its own texture, then draws it into the viewport."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._progs: dict[str, tuple[moderngl.Program, _Quad]] = {}
        self.blit = _program(ctx, "viewer_blit.glsl")
        self.blit_quad = _Quad(ctx, self.blit)
        self.tf_texture = ctx.texture((256, 1), 4, dtype="f4")
        self.tf_texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.tf_texture.repeat_x = self.tf_texture.repeat_y = False
        self._tf_name: str | None = None
        self.colour: moderngl.Texture | None = None
        self.fbo: moderngl.Framebuffer | None = None
        self.key: object = None  # what the cached image shows

    def _prog(self, mode: str) -> tuple[moderngl.Program, _Quad]:
        if mode not in MODES_3D:
            raise ValueError(f"unknown 3D mode {mode!r}; valid: {', '.join(MODES_3D)}")
        if mode not in self._progs:
            prog = _program(self.ctx, "viewer_raycast.glsl", [f"MODE_{mode.upper()}"])
            self._progs[mode] = (prog, _Quad(self.ctx, prog))
        return self._progs[mode]

    def _target(self, size: tuple[int, int]) -> moderngl.Framebuffer:
        if self.colour is None or self.colour.size != size:
            if self.fbo is not None:
                self.fbo.release()
            if self.colour is not None:
                self.colour.release()
            self.colour = self.ctx.texture(size, 4)
            self.colour.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self.fbo = self.ctx.framebuffer(color_attachments=[self.colour])
        assert self.fbo is not None
        return self.fbo

    def render(
        self,
        gv: GpuVolume,
        size: tuple[int, int],
        camera: npt.NDArray[np.float64],
        view_dir_lps: npt.NDArray[np.float64],
        mode: str,
        window: tuple[float, float],
        preset: TransferPreset,
        step_mm: float,
    ) -> None:
        """Ray-cast into the offscreen texture of ``size`` pixels.

        ``camera`` maps NDC ``(x, y, z, 1)`` to LPS (orthographic), ``view_dir_lps`` is the unit
        direction the rays travel.
        """
        prog, quad = self._prog(mode)
        fbo = self._target(size)
        if self._tf_name != preset.name:
            self.tf_texture.write(preset.table().tobytes())
            self._tf_name = preset.name
        vol = gv.volume
        width, level = window
        lo, hi = level - width / 2.0, level + width / 2.0
        if np.isfinite(preset.lo) and mode == "dvr":
            lo, hi = preset.lo, preset.hi
        iso = preset.iso if np.isfinite(preset.iso) else level
        z, y, x = vol.shape
        ijk_to_tex = np.diag([1.0 / x, 1.0 / y, 1.0 / z, 1.0])
        ijk_to_tex[:3, 3] = 0.5 / np.array([x, y, z], dtype=np.float64)
        lps_to_tex = ijk_to_tex @ np.linalg.inv(vol.affine)
        grad = vol.direction @ np.diag(1.0 / np.asarray(vol.spacing))
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        self.ctx.scissor = None
        gv.texture.use(0)
        self.tf_texture.use(1)
        _set(prog, "u_volume", 0)
        _set(prog, "u_tf", 1)
        _set(prog, "u_ndc_to_lps", _mat(camera))
        _set(prog, "u_lps_to_tex", _mat(lps_to_tex))
        _set(prog, "u_grad_ijk_to_lps", _mat(grad))
        _set(prog, "u_dir_lps", tuple(float(c) for c in view_dir_lps))
        _set(prog, "u_voxel_tex", (1.0 / x, 1.0 / y, 1.0 / z))
        _set(prog, "u_step_mm", float(step_mm))
        _set(prog, "u_value_scale", gv.value_scale)
        _set(prog, "u_value_offset", gv.value_offset)
        _set(prog, "u_window_lo", lo)
        _set(prog, "u_window_hi", hi)
        _set(prog, "u_iso_value", float(iso))
        _set(prog, "u_invert", bool(vol.invert) and mode in ("mip", "minip", "xray"))
        quad.draw()

    def draw(self, screen: moderngl.Framebuffer, rect: Rect, fb_height: int) -> None:
        """Draw the last rendered image scaled into ``rect`` of ``screen``."""
        if self.colour is None:
            return
        screen.use()
        gl_viewport(self.ctx, rect, fb_height)
        self.colour.use(0)
        _set(self.blit, "u_image", 0)
        self.blit_quad.draw()

    def release(self) -> None:
        for prog, quad in self._progs.values():
            quad.release()
            prog.release()
        self._progs.clear()
        self.blit_quad.release()
        self.blit.release()
        self.tf_texture.release()
        if self.fbo is not None:
            self.fbo.release()
        if self.colour is not None:
            self.colour.release()
