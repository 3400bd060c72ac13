"""Signed normalised 8-bit 3D textures (``GL_RGB8_SNORM``) for the compact gradient.

The gradient texels are signed bytes read as ``byte / 127`` (``_gradient``). moderngl (5.x)
makes a 3D texture only in the formats of its dtypes, and its signed ``'ni1'`` is an *unsigned*
``GL_RGB8`` texture written with type ``GL_BYTE`` (a negative byte is stored as 0). An
unsigned texture with an offset (128 for 0) would hold the same bytes, but llvmpipe filters
unsigned 8-bit textures in 8-bit fixed point (the filtered value rounded to a byte step), so
its pictures left the GL-vs-arrays bound; signed ones it filters in float, as the RGB16 it
replaces.

So the texture is made by moderngl (the object, its writes, filter, wrap and release stay
moderngl's, at its size), and its storage is then given again in ``GL_RGB8_SNORM`` (core
since GL 3.1) at the same size, with one ``glTexImage3D`` through the system's GL library on
the texture moderngl bound. moderngl's writes upload ``GL_RGB`` / ``GL_BYTE``, which
``RGB8_SNORM`` stores exactly. Nothing is assumed blindly: once per context a small texture
made this way is written with bytes of both signs and read back through moderngl; if
anything differs (another moderngl, a GL without the format, no GL library to call: other
systems), :func:`snorm_texture3d` returns None and the caller draws without the texture (the
26-fetch gradient: slower, the same picture), never with a wrong byte.
"""

from __future__ import annotations

import ctypes
import logging
from functools import cache
from typing import Any

import numpy as np

from ownscan.core.render._readback import gl_function

__all__ = ["SnormRefused", "snorm_texture3d", "snorm_works"]

log = logging.getLogger(__name__)

_GL_TEXTURE_3D = 0x806F
_GL_RGB8_SNORM = 0x8F96
_GL_RGB = 0x1907
_GL_BYTE = 0x1400

# bytes of both signs and both ends, and their order along the row (a 4x1x1 probe)
_PROBE = np.array([[-127, 0, 127], [1, -1, 64], [127, -128, -64], [-3, 100, 2]], np.int8)


class SnormRefused(Exception):
    """The GL refused the storage (out of memory)."""


_ARGS: list[Any] = [ctypes.c_uint, ctypes.c_int, ctypes.c_int, *[ctypes.c_int] * 4, ctypes.c_uint]
_ARGS += [ctypes.c_uint, ctypes.c_void_p]


@cache
def _tex_image_3d() -> Any | None:
    """``glTexImage3D`` of the system's GL library (``_readback.gl_function``), which acts on
    the current context; None where there is none to load."""
    return gl_function("glTexImage3D", _ARGS)


def _make(ctx: Any, size: tuple[int, int, int]) -> Any:
    """The texture (see the module), linearly filtered and clamped to its edges; raises
    SnormRefused when the GL refuses the storage, RuntimeError when it cannot be made."""
    import moderngl

    fn = _tex_image_3d()
    if fn is None:
        raise RuntimeError("no GL library to call")
    # made at its size by moderngl (which keeps its size, components and dtype for its writes
    # and reads), then given the same size again in the signed format
    tex = ctx.texture3d(size, 3, None, dtype="ni1", alignment=1)
    try:
        if ctx.error == "GL_OUT_OF_MEMORY":
            raise SnormRefused(f"{size[0]}x{size[1]}x{size[2]} RGB8")
        tex.use(ctx.default_texture_unit)  # bound: glTexImage3D acts on it
        fn(_GL_TEXTURE_3D, 0, _GL_RGB8_SNORM, *size, 0, _GL_RGB, _GL_BYTE, None)
        error = ctx.error
        if error == "GL_OUT_OF_MEMORY":
            raise SnormRefused(f"{size[0]}x{size[1]}x{size[2]} RGB8_SNORM")
        if error != "GL_NO_ERROR":
            raise RuntimeError(f"glTexImage3D: {error}")
    except BaseException:
        tex.release()
        raise
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    tex.repeat_x = tex.repeat_y = tex.repeat_z = False  # clamp to edge
    return tex


_WORKS: dict[int, bool] = {}


def snorm_works(ctx: Any) -> bool:
    """Whether :func:`snorm_texture3d` gives true signed textures in ``ctx`` (checked once per
    context: a probe written and read back through moderngl, see the module)."""
    key = id(ctx)
    if key not in _WORKS:
        ok = False
        try:
            probe = _make(ctx, (len(_PROBE), 1, 1))
        except (RuntimeError, SnormRefused) as exc:
            log.info("no RGB8_SNORM 3D textures: %s", exc)
        else:
            try:
                probe.write(_PROBE.tobytes(), viewport=(0, 0, 0, len(_PROBE), 1, 1), alignment=1)
                back = np.frombuffer(probe.read(alignment=1), np.int8)
                # -128 is stored as -127's value on some GLs: compare through byte / 127
                want = np.maximum(_PROBE.ravel(), -127)
                ok = back.size == want.size and bool((np.maximum(back, -127) == want).all())
                if not ok:
                    log.info("RGB8_SNORM 3D textures read back %s, not %s", back, want)
            finally:
                probe.release()
        _WORKS[key] = ok and ctx.error == "GL_NO_ERROR"
    return _WORKS[key]


def snorm_texture3d(ctx: Any, size: tuple[int, int, int]) -> Any | None:
    """An empty ``RGB8_SNORM`` 3D texture of ``size`` (moderngl's object, written with
    ``int8`` RGB bytes), linearly filtered and clamped to its edges; None where this context
    cannot make them (:func:`snorm_works`). Raises :class:`SnormRefused` when the GL has no
    room for it."""
    if not snorm_works(ctx):
        return None
    return _make(ctx, size)
