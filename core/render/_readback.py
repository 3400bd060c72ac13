"""Quantised voxels read back from the volume's own texture, for the gradient.

The shaded modes' gradient texture (``_gradient``) is made from the quantised voxels
(``q``, the R16 texels), slab by slab with a halo. The GL renderer never keeps a quantised
copy of the volume on the host (it would double the volume's memory), so until 2026-12-06
the gradient quantised every slab again from the voxels (``PreparedVolume.slab``): for a
512x512x300 CT about 1.5 passes of the float quantisation (the halos), 110-340 ms of CPU of a
first dvr frame on this 2-core machine, while the very same numbers sat in the volume's
texture. On llvmpipe a texture is host memory: ``glGetTextureSubImage`` (GL 4.5) copies a
slab of it out (a memcpy, about a tenth of the quantisation's cost) with the GIL let go (a
ctypes call), so the gradient's worker keeps computing meanwhile.

Read as ``GL_RED`` / ``GL_UNSIGNED_SHORT`` from an ``R16`` texture the bytes are the texels'
own, unconverted: the gradient is bit-identical. Nothing is assumed blindly: once per
context a small R16 texture is written through moderngl and read back here; if anything
differs, or the GL has no ``glGetTextureSubImage`` (GL before 4.5, no GL library to call),
:func:`texture_reader` returns None and the caller quantises as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["gl_function", "texture_reader"]

log = logging.getLogger(__name__)

_GL_RED = 0x1903
_GL_UNSIGNED_SHORT = 0x1403
_GL_PACK_ALIGNMENT = 0x0D05

# (texture, level, x, y, z, width, height, depth, format, type, bufSize, pixels)
_SUB_IMAGE_ARGS: list[Any] = [ctypes.c_uint, *[ctypes.c_int] * 7, ctypes.c_uint, ctypes.c_uint]
_SUB_IMAGE_ARGS += [ctypes.c_int, ctypes.c_void_p]


def gl_function(name: str, argtypes: list[Any]) -> Any | None:
    """``name`` of the system's GL library (returning nothing), which acts on the current
    context and, as a ctypes call, lets the GIL go: on Windows through ``wglGetProcAddress``
    (opengl32 exports GL 1.1 only, as moderngl's own loader does), elsewhere exported by
    libOpenGL (glvnd), libGL or the OpenGL framework; None where there is none to load."""
    if sys.platform.startswith("win"):
        try:
            wgl = ctypes.WinDLL("opengl32.dll")  # type: ignore[attr-defined,unused-ignore]
            get = wgl.wglGetProcAddress
            get.restype, get.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
            address = get(name.encode())
        except (OSError, AttributeError):
            return None
        if not address:
            return None
        proto = ctypes.WINFUNCTYPE(None, *argtypes)  # type: ignore[attr-defined,unused-ignore]
        return proto(address)
    for lib in _gl_libraries():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            continue
        fn.restype, fn.argtypes = None, argtypes
        return fn
    return None


@cache
def _gl_libraries() -> tuple[Any, ...]:
    """libOpenGL (glvnd) and libGL or the OpenGL framework, those that load, found once:
    ``find_library`` runs ``ldconfig`` in a child process each time it is asked."""
    found = []
    for lib in ("OpenGL", "GL"):
        path = ctypes.util.find_library(lib)
        if path is None:
            continue
        try:
            found.append(ctypes.CDLL(path))
        except OSError:
            continue
    return tuple(found)


@cache
def _functions() -> tuple[Any, Any] | None:
    sub_image = gl_function("glGetTextureSubImage", _SUB_IMAGE_ARGS)
    store = gl_function("glPixelStorei", [ctypes.c_uint, ctypes.c_int])
    return None if sub_image is None or store is None else (sub_image, store)


Reader = Callable[[Any, int, int], npt.NDArray[np.uint16]]


def _read(ctx: Any, tex: Any, k0: int, k1: int) -> npt.NDArray[np.uint16]:
    """Slices ``k0 .. k1 - 1`` of the R16 3D texture ``tex`` (moderngl's), ``(k1 - k0,
    height, width)`` uint16; raises RuntimeError when the GL reports an error."""
    fns = _functions()
    assert fns is not None
    sub_image, store = fns
    width, height, _ = tex.size
    out = np.empty((k1 - k0, height, width), dtype=np.uint16)
    store(_GL_PACK_ALIGNMENT, 1)  # rows of 2 * width bytes, unpadded (moderngl sets its own)
    sub_image(
        tex.glo, 0, 0, 0, k0, width, height, k1 - k0,
        _GL_RED, _GL_UNSIGNED_SHORT, out.nbytes, out.ctypes.data,
    )  # fmt: skip
    error = ctx.error
    if error != "GL_NO_ERROR":
        raise RuntimeError(f"glGetTextureSubImage: {error}")
    return out


_WORKS: dict[int, bool] = {}

# texels of both ends and between, along every axis (a 3x2x2 probe)
_PROBE = np.array(
    [[[0, 65535, 1], [2, 32768, 7]], [[65534, 3, 40000], [9, 1000, 12345]]], np.uint16
)


def texture_reader(ctx: Any) -> Reader | None:
    """``read(tex, k0, k1)``: slices ``k0 .. k1 - 1`` of an R16 3D texture of ``ctx``
    (moderngl's ``'nu2'``, its size as made), the texels' own uint16, read on the calling
    thread (the context's: current there); None where this context cannot (checked once per
    context with a probe written through moderngl and read back, see the module)."""
    key = id(ctx)
    if key not in _WORKS:
        ok = False
        if _functions() is None:
            log.info("no glGetTextureSubImage to call: the gradient quantises its slabs")
        else:
            depth, height, width = _PROBE.shape
            probe = ctx.texture3d((width, height, depth), 1, _PROBE.tobytes(), dtype="nu2")
            try:
                back = _read(ctx, probe, 1, 2)
                ok = np.array_equal(back, _PROBE[1:2])
                if not ok:
                    log.info("R16 texels read back %s, not %s", back.ravel(), _PROBE[1].ravel())
            except RuntimeError as exc:
                log.info("no R16 texels read back: %s", exc)
            finally:
                probe.release()
        _WORKS[key] = ok and ctx.error == "GL_NO_ERROR"
    if not _WORKS[key]:
        return None
    return lambda tex, k0, k1: _read(ctx, tex, k0, k1)
