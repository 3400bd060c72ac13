"""The viewer's 2D (slice) views, drawn from the ray-caster's own volume textures.

Everything here draws into the framebuffer that is bound (the window's, in the viewer) inside
a viewport given in framebuffer pixels with a top-left origin; GL's bottom-left origin is
handled in :func:`gl_viewport`. A 2D view costs one textured quad: the fragment shader
reslices the :class:`~ownscan.core.render.GpuVolume` along the view's plane (see
``shaders/viewer_slice.glsl``), with the ray-caster's sampling and window maths.
"""

from __future__ import annotations

from typing import Any

import moderngl
import numpy as np
import numpy.typing as npt

from ownscan.core.render import GpuVolume
from ownscan.core.render._gpu import gl_matrix, program, set_uniform
from ownscan.core.viewer._geometry import PlaneAxes, px_to_tex_matrix
from ownscan.core.viewer._layout import Rect

__all__ = ["Quad", "SliceDrawer", "gl_viewport"]


def gl_viewport(ctx: moderngl.Context, rect: Rect, fb_height: int) -> None:
    """Set the GL viewport (and scissor) to ``rect`` (top-left origin) in a framebuffer."""
    vp = (rect.x, fb_height - rect.y - rect.h, rect.w, rect.h)
    ctx.viewport = vp
    ctx.scissor = vp


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
    """Draws a resliced plane of a :class:`~ownscan.core.render.GpuVolume` with window/level
    into a viewport (one program per number of bricks the volume is split into)."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._programs: dict[int, tuple[Any, Quad]] = {}

    def _program(self, bricks: int) -> tuple[Any, Quad]:
        if bricks not in self._programs:
            prog = program(
                self.ctx, "viewer_slice.glsl", [f"BRICKS {bricks}"] if bricks > 1 else []
            )
            self._programs[bricks] = (prog, Quad(self.ctx, prog))
        return self._programs[bricks]

    def draw(
        self,
        gv: GpuVolume,
        rect: Rect,
        fb_height: int,
        plane: PlaneAxes,
        centre_lps: npt.ArrayLike,
        mm_per_px: float,
        window: tuple[float, float],
        lps_map: npt.ArrayLike | None = None,
    ) -> None:
        """Draw one 2D view. ``window`` is ``(width, level)`` in the volume's units;
        ``lps_map`` takes the plane's LPS points into the volume's (a registered prior)."""
        m = px_to_tex_matrix(gv.volume, rect.size, centre_lps, plane, mm_per_px, lps_map)
        prog, quad = self._program(len(gv.textures))
        gl_viewport(self.ctx, rect, fb_height)
        for unit, (name, tex) in enumerate(gv.texture_units().items()):
            tex.use(unit)
            set_uniform(prog, name, unit)
        for name, value in gv.volume_uniforms().items():
            set_uniform(prog, name, value)
        set_uniform(prog, "u_size_px", (float(rect.w), float(rect.h)))
        prog["u_px_to_tex"].write(gl_matrix(m))
        set_uniform(prog, "u_rgb", bool(gv.rgb))
        if not gv.rgb:
            width, level = window
            set_uniform(prog, "u_window", gv.window(width, level))
            set_uniform(prog, "u_invert", int(gv.volume.invert))
        quad.draw()

    def release(self) -> None:
        for prog, quad in self._programs.values():
            quad.release()
            prog.release()
        self._programs.clear()
