"""The OpenGL ray-caster (moderngl): one full-screen triangle, one fragment = one ray.

The volume is a 3D texture (R16 unorm: ``'nu2'``; moderngl's ``'u2'`` is an integer texture
that a ``sampler3D`` reads as 0), the transfer function a 256 x 1 float texture (moderngl has no
1D textures), the empty-space-skipping bricks a small 3D texture. Each mode is its own program
(``core.render._shaders.raycast_program``: the skeleton ``raycast.frag.glsl`` with the mode, its
parameters and skip rule included and its options ``#define``-d; the browser's page compiles
the same text as GLSL ES): a run-time mode switch costs a lot on software GL, which runs
untaken branches. The picture is
rendered into a float framebuffer and quantised on the CPU exactly as the array renderer does.
"""

from __future__ import annotations

import contextlib
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import OwnscanError
from ownscan.core.render._array import upscale_nearest
from ownscan.core.render._camera import Camera
from ownscan.core.render._gpu import (
    DEFAULT_BUDGET,
    GpuVolume,
    brick_ranges,
    gradient_fits_dims,
    volume_limits,
)
from ownscan.core.render._gpu import gl_matrix as _mat
from ownscan.core.render._outofcore import OutOfCore, accepts_texture, composition, fits_one_pass
from ownscan.core.render._scene import RUNNING_SKIPS, Scene, VisualisationMode
from ownscan.core.render._setup import (
    BRICK,
    RUNNING_BRICK,
    SHADE,
    SHADE_GAIN,
    Frame,
    PreparedVolume,
    factors_for,
    frame_for,
    to_uint8,
)
from ownscan.core.render._shaders import raycast_program
from ownscan.core.volume import Volume

__all__ = ["GLRenderer", "GLUnavailable"]

log = logging.getLogger(__name__)


class GLUnavailable(OwnscanError, RuntimeError):
    """No OpenGL 3.3 context could be created (no EGL, no driver)."""


# Bytes of float RGBA read back at a time by GLRenderer.render (a 512-wide picture: 64 rows)
READ_BAND_BYTES = 1 << 19


class GLRenderer:
    """Draws a scene with OpenGL 3.3 through moderngl.

    Parameters
    ----------
    ctx
        An existing moderngl context (a window's); None creates a headless one through EGL.
    memory_budget
        Bytes the volume's textures may take; a grey volume beyond it is drawn brick by brick
        at full resolution (``core.render._outofcore``; the bricks that do not fit uploaded
        again each frame). Drawn downsampled, with a :class:`~ownscan.core.render.RenderNote`:
        a mode the renderer cannot draw brick by brick (a third party's), or a budget too
        small for any brick.
    max_texture
        Largest 3D texture side; None: the context's ``GL_MAX_3D_TEXTURE_SIZE``. A volume
        larger along any axes is split into up to four bricks in all, sampled seamlessly in
        one pass; one that needs more is drawn brick by brick, as over the budget.

    Raises
    ------
    GLUnavailable
        When no context can be created.
    """

    name = "gl"

    def __init__(
        self, ctx: Any = None, memory_budget: int = DEFAULT_BUDGET, max_texture: int | None = None
    ) -> None:
        import moderngl

        self._moderngl = moderngl
        if ctx is None:
            try:
                options: dict[str, Any] = {"backend": "egl", "require": 330}
                ctx = moderngl.create_standalone_context(**options)
            except Exception as exc:
                raise GLUnavailable(
                    f"cannot create an OpenGL 3.3 context via EGL ({exc}); "
                    "use --backend cpu, or install Mesa's EGL (libegl1 libegl-mesa0)"
                ) from exc
            self._owns_ctx = True
        else:
            self._owns_ctx = False
        self.ctx = ctx
        # our own context is made current around each use (and the caller's restored after); a
        # context passed in is the caller's to keep current
        self._scope: Any = ctx if self._owns_ctx else contextlib.nullcontext()
        self.max_texture = int(max_texture or ctx.info["GL_MAX_3D_TEXTURE_SIZE"])
        self.memory_budget = int(memory_budget)
        self.notes: list[str] = []
        self._programs: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._gpu: GpuVolume | None = None
        self._bricks: OutOfCore | None = None  # a volume drawn brick by brick
        self._skip: tuple[weakref.ref[npt.NDArray[np.uint8]], Any] | None = None
        self._fbo: tuple[tuple[int, int], Any, Any] | None = None
        self._dummy3d = ctx.texture3d((1, 1, 1), 1, b"\xff", dtype="f1")
        self._dummy2d = ctx.texture((1, 1), 4, np.zeros(4, np.float32).tobytes(), dtype="f4")

    @property
    def bricks(self) -> OutOfCore | None:
        """The volume drawn brick by brick in several passes (None: none so far), kept until
        another such volume is drawn."""
        return self._bricks

    @property
    def renderer_string(self) -> str:
        """The GL implementation, e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)``."""
        return str(self.ctx.info["GL_RENDERER"])

    # -- resources -----------------------------------------------------------------------------
    def _program(
        self,
        mode: VisualisationMode,
        shading: bool,
        bricks: int = 1,
        gradient: bool = False,
        segment: str = "",
    ) -> tuple[Any, Any]:
        """The program (and its vertex array) drawing ``mode`` with these options (see
        :func:`~ownscan.core.render._shaders.raycast_program`), compiled on first use."""
        rule = mode.skip_rule
        shaded = shading and mode.uses_transfer_function
        key = (
            mode.name,
            mode.glsl,
            mode.slab,
            mode.jitter,
            tuple(mode.parameters),
            (rule.name, rule.glsl) if rule is not None else mode.skip,
            shaded,
            bricks,
            gradient,
            segment,
        )
        return self.kept_program(
            key, lambda: raycast_program(mode, shading, bricks, gradient, segment=segment)
        )

    def compile_ahead(
        self,
        mode: VisualisationMode,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        shading: bool = True,
    ) -> None:
        """Compile now the program that frames of ``mode`` will use over a grey volume of
        ``shape`` ``(nz, ny, nx)`` and ``spacing`` (along ``i``, ``j``, ``k``; a series'
        header gives both before its voxels), so that it is made while the voxels load
        (``ownscan render``, the viewer). Kept under the key the frame looks it up by: a
        volume that turns out otherwise costs the compilation again, never a different
        picture. Nothing for a volume drawn brick by brick or averaged down (decided when
        its voxels are there)."""
        limits = volume_limits(self.max_texture, shape)
        if factors_for(shape, spacing, limits, self.memory_budget) != (1, 1, 1):
            return
        z, y, x = (int(n) for n in shape[:3])
        bricks = math.prod(len(brick_ranges(n, self.max_texture)) for n in (x, y, z))
        # as _draw: the precomputed gradient when the mode shades and it fits the budget
        gradient = (
            shading
            and mode.uses_transfer_function
            and gradient_fits_dims((x, y, z), spacing, self.memory_budget)
        )
        with self._scope:
            self._program(mode, shading, bricks, gradient)

    def kept_program(self, key: tuple[Any, ...], source: Callable[[], Any]) -> tuple[Any, Any]:
        """The program (and its vertex array) kept under ``key`` with this renderer's others,
        compiled from ``source()`` (a ``ProgramSource``) on first use; released by close."""
        if key not in self._programs:
            src = source()
            program = self.ctx.program(
                vertex_shader="#version 330 core\n" + src.vertex,
                fragment_shader="#version 330 core\n" + src.fragment,
            )
            self._programs[key] = (program, self.ctx.vertex_array(program, []))
        return self._programs[key]

    def upload(self, volume: Volume) -> GpuVolume:
        """``volume`` on the GPU as this renderer samples it: made on first use and kept until
        another volume is drawn or uploaded (or :meth:`close`). A window that draws other
        views of the same volume (the viewer's 2D slices) samples these very textures."""
        if self._gpu is not None and self._gpu.source is volume:
            return self._gpu
        with self._scope:
            if self._gpu is not None:
                self._gpu.release()
                self._gpu = None
            self._release_skip()
            self._gpu = GpuVolume(self.ctx, volume, self.max_texture, self.memory_budget)
        return self._gpu

    def _skip_texture(self, distance: npt.NDArray[np.uint8]) -> Any:
        """The skip-distance table as a texture (one texel per brick, distance / 255), kept
        while frames bring the same table (``frame_for`` reuses it until the transfer
        function, window or iso value changes)."""
        if self._skip is not None and self._skip[0]() is distance:
            return self._skip[1]
        self._release_skip()
        nbz, nby, nbx = distance.shape
        tex = self.ctx.texture3d((nbx, nby, nbz), 1, distance.tobytes(), dtype="f1")
        tex.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
        self._skip = (weakref.ref(distance), tex)
        return tex

    def _release_skip(self) -> None:
        if self._skip is not None:
            self._skip[1].release()
            self._skip = None

    def _target(self, size: tuple[int, int]) -> tuple[Any, Any]:
        if self._fbo is None or self._fbo[0] != size:
            colour = self.ctx.texture(size, 4, dtype="f4")
            fbo = self.ctx.framebuffer(color_attachments=[colour])
            fbo.use()  # bind the new one before deleting the old: moderngl would re-bind it
            if self._fbo is not None:
                self._fbo[2].release()
                self._fbo[1].release()
            self._fbo = (size, colour, fbo)
        return self._fbo[1], self._fbo[2]

    # -- drawing -------------------------------------------------------------------------------
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
        w, h = int(size[0]), int(size[1])
        rw, rh = (max(1, w // 2), max(1, h // 2)) if interactive else (w, h)
        self._render(scene, camera, (rw, rh), interactive, read=False)
        img = self._read_picture((rw, rh))
        return upscale_nearest(img, (w, h)) if (rw, rh) != (w, h) else img

    def _read_picture(self, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
        """The float target's picture of ``size`` as :func:`to_uint8` makes it (top row
        first), read back a band of rows at a time: the whole float picture and its float
        copy (8 MiB at 512x512, 32 at 1024x1024) were never needed at once, and were resident
        at the peak of ``ownscan render`` (docs/BENCH.md, Memory)."""
        width, height = size
        assert self._fbo is not None and self._fbo[0] == size
        fbo = self._fbo[2]
        out = np.empty((height, width, 4), dtype=np.uint8)
        band = max(1, READ_BAND_BYTES // (16 * width))  # rows of float RGBA
        with self._scope:
            for y0 in range(0, height, band):
                y1 = min(height, y0 + band)
                data = fbo.read(viewport=(0, y0, width, y1 - y0), components=4, dtype="f4")
                rows = np.frombuffer(data, dtype=np.float32).reshape(y1 - y0, width, 4)
                out[height - y1 : height - y0] = to_uint8(rows)  # rows bottom first
        return out

    def render_texture(
        self,
        scene: Scene,
        camera: Camera,
        size: tuple[int, int],
        interactive: bool = False,
    ) -> Any:
        """The picture left on the GPU: the renderer's float RGBA texture (premultiplied, bottom
        row first, ``size`` or half of it when ``interactive``), for a window to draw without a
        read-back. It stays valid until the next call; do not release it."""
        w, h = int(size[0]), int(size[1])
        rw, rh = (max(1, w // 2), max(1, h // 2)) if interactive else (w, h)
        self._render(scene, camera, (rw, rh), interactive, read=False)
        assert self._fbo is not None
        return self._fbo[1]

    def _render(
        self, scene: Scene, camera: Camera, size: tuple[int, int], interactive: bool, read: bool
    ) -> bytes:
        """Draw into the float target: in one pass, or brick by brick (``_outofcore.py``)
        when the volume exceeds the GPU's limits and the mode can be drawn so."""
        bricked = self._bricked(scene)
        if bricked is not None:
            frame = bricked.frame(scene, camera, size, interactive)
            self.notes = []  # drawn at full resolution
            with self._scope:
                return bricked.draw(self, scene.mode, frame, read)
        gpu, frame = self._frame(scene, camera, size, interactive)
        with self._scope:
            return self._draw(gpu, frame, scene.mode, read)

    def _bricked(self, scene: Scene) -> OutOfCore | None:
        """The volume's bricks when it is drawn brick by brick: a grey volume beyond the
        largest 3D texture (in up to four bricks), the memory budget or what the GL accepts,
        in a mode whose passes compose (:func:`~ownscan.core.render._outofcore.composition`).
        None: one pass (averaged down when it does not fit, with a note)."""
        volume = scene.volume
        if volume.samples != 1 or composition(scene.mode) is None:
            return None
        if self._bricks is not None and self._bricks.source is volume:
            return self._bricks
        gpu = self._gpu
        if gpu is not None and gpu.source is volume and gpu.volume is volume:
            return None  # on the GPU at full resolution already
        largest = None
        if fits_one_pass(volume, self.max_texture, self.memory_budget):
            with self._scope:
                accepted = accepts_texture(self.ctx, volume, self.max_texture)
            if accepted:
                return None
            largest = 2 * math.prod(volume.shape) // 2  # bricks of half what was refused
        with self._scope:
            if self._bricks is not None:
                self._bricks.release()
                self._bricks = None
            try:
                self._bricks = OutOfCore(
                    self.ctx, volume, self.max_texture, self.memory_budget, largest
                )
            except ValueError as exc:  # no bricks that small: averaged down, with a note
                log.info("%s", exc)
        return self._bricks

    def _frame(
        self, scene: Scene, camera: Camera, size: tuple[int, int], interactive: bool
    ) -> tuple[GpuVolume, Frame]:
        gpu = self.upload(scene.volume)
        if gpu.prepared is None:
            raise ValueError(
                f"the renderer draws grey volumes; this one has {scene.volume.samples} "
                "samples per voxel (colour)"
            )
        self.notes = list(gpu.notes)
        if gpu.volume is not scene.volume and composition(scene.mode) is None:
            self.notes.append(
                f"mode {scene.mode.name!r} is not one the renderer can draw brick by brick "
                "(its state along a ray is its own), so it is drawn from the averaged-down volume"
            )
        return gpu, frame_for(gpu.prepared, scene, camera, size, interactive)

    def draw(
        self, gpu: GpuVolume, frame: Frame, mode: VisualisationMode
    ) -> npt.NDArray[np.float32]:
        """Premultiplied float RGBA ``(h, w, 4)``, bottom row first, of one frame."""
        data = self._draw(gpu, frame, mode, read=True)
        return np.frombuffer(data, dtype=np.float32).reshape(frame.height, frame.width, 4)

    def _draw(self, gpu: GpuVolume, frame: Frame, mode: VisualisationMode, read: bool) -> bytes:
        mgl = self._moderngl
        prepared = gpu.prepared
        assert prepared is not None
        volumes = gpu.textures
        gradients: list[Any] = []
        if frame.shading and mode.uses_transfer_function:
            gradients = gpu.gradient_textures()
        program, vao = self._program(mode, frame.shading, len(volumes), bool(gradients))
        lut = self.lut_texture(frame)
        previous = self.ctx.fbo  # a window's framebuffer: bound again afterwards
        try:
            _, fbo = self._target((frame.width, frame.height))
            units = {
                **gpu.texture_units(),
                **{
                    # the gradient has as many bricks as the volume or fewer
                    f"u_gradient{b or ''}": gradients[b] if b < len(gradients) else self._dummy3d
                    for b in range(len(volumes))
                },
            }
            tables = (prepared, gpu.bound_texture, lut)
            uniforms = {**gpu.volume_uniforms(), **(gpu.gradient_uniforms() if gradients else {})}
            self.bind_frame(program, frame, mode, tables, uniforms, units)
            fbo.use()
            self.ctx.disable(mgl.BLEND | mgl.DEPTH_TEST)
            fbo.viewport = (0, 0, frame.width, frame.height)
            vao.render(mgl.TRIANGLES, vertices=3)
            data = fbo.read(components=4, dtype="f4") if read else b""
        finally:
            if lut is not None:
                lut.release()
            self.rebind(previous)
        return bytes(data)

    def rebind(self, previous: Any) -> None:
        """Bind ``previous`` (the framebuffer bound before drawing: a window's) again."""
        if previous is not None and previous is not self._fbo_object():
            # AttributeError: it was released meanwhile (moderngl's InvalidObject)
            with contextlib.suppress(AttributeError):
                previous.use()

    def lut_texture(self, frame: Frame) -> Any:
        """The frame's transfer function as a 256 x 1 float texture (None without one); the
        caller releases it."""
        if frame.lut is None:
            return None
        mgl = self._moderngl
        lut = self.ctx.texture((256, 1), 4, frame.lut.tobytes(), dtype="f4")
        lut.filter = (mgl.LINEAR, mgl.LINEAR)
        lut.repeat_x = lut.repeat_y = False
        return lut

    def bind_frame(
        self,
        program: Any,
        frame: Frame,
        mode: VisualisationMode,
        tables: tuple[PreparedVolume, Callable[[str], Any], Any],
        volume_uniforms: dict[str, Any],
        volume_units: dict[str, Any],
    ) -> None:
        """Set the uniforms of a ray-casting ``program`` for ``frame`` and bind its textures:
        ``tables`` are the prepared volume, the maker of its MIP / MinIP bound texture and the
        transfer function's texture (or None); ``volume_uniforms`` / ``volume_units`` say how
        to sample the volume (and its gradient)."""
        prepared, bound_texture, lut = tables
        nbz, nby, nbx = prepared.block_hi.shape
        last_brick = (float(nbx - 1), float(nby - 1), float(nbz - 1))
        distance = bound = None
        if frame.skip_distance is not None:
            distance = self._skip_texture(frame.skip_distance)
        brick = float(BRICK)
        if mode.skip in RUNNING_SKIPS:
            bound = bound_texture(str(mode.skip))
            brick = float(RUNNING_BRICK)  # the bound table's bricks are larger
            nbx, nby, nbz = bound.size
            last_brick = (float(nbx - 1), float(nby - 1), float(nbz - 1))
        b = frame.basis_lps
        values: dict[str, Any] = {
            "u_size": (float(frame.width), float(frame.height)),
            "u_centre_lps": tuple(frame.centre_lps),
            "u_right_lps": tuple(b[:, 0]),
            "u_up_lps": tuple(b[:, 1]),
            "u_back_lps": tuple(b[:, 2]),
            "u_half_mm": frame.half_mm,
            "u_pan_mm": frame.pan_mm,
            "u_perspective": int(frame.perspective),
            "u_eye_mm": frame.eye_distance_mm,
            "u_box_lo_tex": tuple(frame.box_lo_tex),
            "u_box_hi_tex": tuple(frame.box_hi_tex),
            "u_max_steps": frame.max_steps,
            "u_slab_half_mm": frame.slab_half_mm,
            "u_plane_lps": tuple(frame.plane_lps),
            "u_brick": brick,
            "u_last_brick": last_brick,
            **volume_uniforms,
            "u_window": frame.window,
            "u_invert": int(frame.invert),
            "u_step_mm": frame.step_mm,
            "u_visible": frame.visible_range,
            "u_shade": SHADE,
            "u_shade_gain": SHADE_GAIN,
        }
        values.update({f"u_{name}": value for name, value in frame.parameters.items()})
        for name, value in values.items():
            if name in program:  # the compiler drops what a mode does not use
                program[name].value = value
        for name, matrix in (
            ("u_lps_to_tex", frame.lps_to_tex),
            ("u_grad_to_lps", frame.grad_to_lps),
        ):
            if name in program:
                program[name].write(_mat(matrix))
        units = {
            **volume_units,
            "u_lut": lut if lut is not None else self._dummy2d,
            "u_skip_distance": distance if distance is not None else self._dummy3d,
            "u_block_bound": bound if bound is not None else self._dummy3d,
        }
        for unit, (name, tex) in enumerate(units.items()):
            if name in program:
                tex.use(location=unit)
                program[name].value = unit

    def _fbo_object(self) -> Any:
        return self._fbo[2] if self._fbo is not None else None

    def close(self) -> None:
        """Release the GL objects (and the context, when this renderer created it)."""
        with self._scope:
            for program, vao in self._programs.values():
                vao.release()
                program.release()
            self._programs.clear()
            if self._gpu is not None:
                self._gpu.release()
                self._gpu = None
            if self._bricks is not None:
                self._bricks.release()
                self._bricks = None
            self._release_skip()
            if self._fbo is not None:
                # bind the default framebuffer first: moderngl would re-bind a deleted one
                self.ctx.detect_framebuffer(0).use()
                self._fbo[2].release()
                self._fbo[1].release()
                self._fbo = None
            self._dummy3d.release()
            self._dummy2d.release()
        if self._owns_ctx:
            self.ctx.release()
