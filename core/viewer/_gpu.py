"""The viewer's GL side: the volume texture and the 2D (slice) views.

Everything here draws into the framebuffer that is bound (the window's, in the viewer) inside
a viewport given in framebuffer pixels with a top-left origin; GL's bottom-left origin is
handled in :func:`gl_viewport`. A 2D view costs one textured quad: the fragment shader
reslices the 3D texture along the view's plane (see ``shaders/viewer_slice.glsl``).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Sequence

import moderngl
import numpy as np
import numpy.typing as npt

from ownscan.core.viewer._geometry import PlaneAxes, px_to_tex_matrix
from ownscan.core.viewer._layout import Rect
from ownscan.core.volume import Volume

__all__ = ["GpuVolume", "Quad", "SliceDrawer", "gl_viewport", "load_shader", "program"]

DEFAULT_BUDGET = 1 << 30  # bytes the 2D views' volume texture may take


@functools.cache
def load_shader(name: str) -> str:
    """Text of ``shaders/NAME`` (package data of ``ownscan.shaders``)."""
    return importlib.resources.files("ownscan.shaders").joinpath(name).read_text("utf-8")


def program(ctx: moderngl.Context, name: str, defines: Sequence[str] = ()) -> moderngl.Program:
    src = load_shader(name)
    head = "#version 330\n" + "".join(f"#define {d}\n" for d in defines)
    return ctx.program(
        vertex_shader=head + "#define VERTEX_SHADER\n" + src,
        fragment_shader=head + "#define FRAGMENT_SHADER\n" + src,
    )


def set_uniform(prog: moderngl.Program, name: str, value: object) -> None:
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


class GpuVolume:
    """A Volume's voxels as a 3D texture, with the mapping back to stored values.

    int16 is uploaded as 16-bit unsigned-normalised with the sign bit flipped (exact, no float
    copy); uint16 and uint8 as normalised integers; anything else as float32. moderngl's
    ``'u2'`` would be an integer texture that a ``sampler3D`` reads as 0, hence ``'nu2'``.
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        volume: Volume,
        max_size: int | None = None,
        max_bytes: int = DEFAULT_BUDGET,
    ) -> None:
        limit = int(ctx.info["GL_MAX_3D_TEXTURE_SIZE"]) if max_size is None else max_size
        self.notes: list[str] = []
        volume = self._fit(volume, limit, max_bytes)
        v = volume.voxels
        z, y, x = volume.shape
        self.rgb = volume.samples != 1
        components = 1
        if self.rgb:  # colour (ultrasound, secondary capture): shown as stored, no window
            rgb = v[..., :3] if v.shape[-1] >= 3 else np.repeat(v[..., :1], 3, axis=-1)
            data = np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))
            dtype, scale, offset, components = "nu1", 255.0, 0.0, 3
        elif v.dtype == np.int16:
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
        self.texture = ctx.texture3d(
            (x, y, z), components, data.tobytes(), dtype=dtype, alignment=1
        )
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = self.texture.repeat_z = False

    def _fit(self, volume: Volume, limit: int, max_bytes: int) -> Volume:
        """``volume`` averaged by whole factors along the axes that exceed the GPU's 3D
        texture size (or the memory budget), with its geometry adjusted exactly and a note."""
        z, y, x = volume.shape
        per_voxel = 2 if volume.samples == 1 and volume.voxels.dtype.itemsize <= 2 else 4
        factors = [max(1, -(-n // limit)) for n in (x, y, z)]
        while (x // factors[0]) * (y // factors[1]) * (z // factors[2]) * per_voxel > max_bytes:
            axis = int(np.argmax([x / factors[0], y / factors[1], z / factors[2]]))
            factors[axis] += 1
        if factors == [1, 1, 1]:
            return volume
        fi, fj, fk = factors
        nz, ny, nx = z // fk, y // fj, x // fi
        acc = np.zeros((nz, ny, nx, *volume.voxels.shape[3:]), dtype=np.float32)
        for dk in range(fk):
            for dj in range(fj):
                for di in range(fi):
                    acc += volume.voxels[dk : nz * fk : fk, dj : ny * fj : fj, di : nx * fi : fi]
        acc /= fi * fj * fk
        # the new voxel (0, 0, 0) is the centre of the old block of voxels 0..f-1
        origin = volume.index_to_lps([(fi - 1) / 2.0, (fj - 1) / 2.0, (fk - 1) / 2.0])
        sx, sy, sz = volume.spacing
        self.notes.append(
            f"the 2D views show {x}x{y}x{z} voxels averaged {fi}x{fj}x{fk} to fit this GPU "
            f"(3D textures up to {limit} per side, {max_bytes >> 20} MiB)"
        )
        dtype = volume.voxels.dtype
        return Volume(
            voxels=np.rint(acc).astype(dtype) if np.issubdtype(dtype, np.integer) else acc,
            spacing=(sx * fi, sy * fj, sz * fk),
            origin=(float(origin[0]), float(origin[1]), float(origin[2])),
            direction=volume.direction,
            modality=volume.modality,
            units=volume.units,
            invert=volume.invert,
        )

    def release(self) -> None:
        self.texture.release()


class Quad:
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
        self.prog = program(ctx, "viewer_slice.glsl")
        self.quad = Quad(ctx, self.prog)

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
        set_uniform(p, "u_volume", 0)
        set_uniform(p, "u_size_px", (float(rect.w), float(rect.h)))
        set_uniform(p, "u_px_to_tex", _mat(m))
        set_uniform(p, "u_value_scale", gv.value_scale)
        set_uniform(p, "u_value_offset", gv.value_offset)
        set_uniform(p, "u_window_lo", level - width / 2.0)
        set_uniform(p, "u_window_hi", level + width / 2.0)
        set_uniform(p, "u_invert", bool(gv.volume.invert))
        set_uniform(p, "u_rgb", bool(gv.rgb))
        self.quad.draw()

    def release(self) -> None:
        self.quad.release()
        self.prog.release()
