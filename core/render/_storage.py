"""Empty R16 3D textures whose storage is made with Python's GIL let go.

A software GL (Mesa's llvmpipe) makes a texture's storage in host memory and clears it: for a
512x512x300 CT's 150 MiB, 38,400 page faults and a memset, about 80 ms. moderngl holds the
GIL through the whole ``glTexImage3D``, so the worker threads that make the volume's block
bounds meanwhile (:func:`~ownscan.core.render.prepare_volume`'s ``meanwhile``) stop at their
next numpy call and wait. Here the texture is made by moderngl at 1x1x1 and its storage
specified again at full size by ``glTexImage3D`` called through ctypes, which lets the GIL go
for the call: the bounds are made on the other CPU while the GL clears the storage.

The moderngl object keeps its 1x1x1 idea of the size inside its C part, which its ``read``
and a ``write`` without a viewport use: :class:`StoredTexture3D` gives them the real size
(``read`` through ``glGetTexImage`` into a buffer of the right size). Everything else (bind,
filter, ``write`` with a viewport, release) does not depend on it.

The GL library's own ``glTexImage3D`` (glvnd's ``libOpenGL``, else ``libGL``) acts on the
context current on the calling thread, the one moderngl made the texture in. The storage is
checked after the call (its width, height and depth read back from the GL); where anything
differs, or no such library is found, :func:`empty_r16_texture` answers None and the caller
makes the texture through moderngl as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

__all__ = ["StoredTexture3D", "empty_r16_texture"]

_GL_TEXTURE_3D = 0x806F
_GL_TEXTURE0 = 0x84C0
_GL_R16 = 0x822A
_GL_RED = 0x1903
_GL_UNSIGNED_SHORT = 0x1403
_GL_TEXTURE_WIDTH, _GL_TEXTURE_HEIGHT, _GL_TEXTURE_DEPTH = 0x1000, 0x1001, 0x8071
_GL_PACK_ALIGNMENT = 0x0D05
_GL_PIXEL_PACK_BUFFER_BINDING = 0x88ED
_GL_PIXEL_UNPACK_BUFFER_BINDING = 0x88EF
_GL_OUT_OF_MEMORY = 0x0505


_ENTRY_POINTS = (
    "glTexImage3D",
    "glGetTexLevelParameteriv",
    "glGetTexImage",
    "glGetIntegerv",
    "glPixelStorei",
    "glBindTexture",
    "glActiveTexture",
    "glGetError",
)


@functools.cache
def _gl() -> Any | None:
    """The GL library whose entry points dispatch to the calling thread's current context,
    or None."""
    for name in ("OpenGL", "GL"):
        path = ctypes.util.find_library(name)
        if path is None:
            continue
        try:
            lib = ctypes.CDLL(path)  # a CDLL, not a PyDLL: calls let the GIL go
            for fn in _ENTRY_POINTS:
                getattr(lib, fn)
        except (OSError, AttributeError):
            continue
        for fn in _ENTRY_POINTS:
            getattr(lib, fn).restype = None
        lib.glGetError.restype = ctypes.c_uint
        return lib
    return None


def _bound_size(lib: Any) -> tuple[int, int, int]:
    """Width, height and depth of level 0 of the 3D texture bound to the active unit."""
    got = []
    for name in (_GL_TEXTURE_WIDTH, _GL_TEXTURE_HEIGHT, _GL_TEXTURE_DEPTH):
        v = ctypes.c_int(-1)
        lib.glGetTexLevelParameteriv(_GL_TEXTURE_3D, 0, name, ctypes.byref(v))
        got.append(v.value)
    return got[0], got[1], got[2]


def _bind(lib: Any, tex: Any) -> None:
    """Bind ``tex`` on moderngl's own unit for its texture calls (the last one), as moderngl
    does before each of them: the units the programs sample are left alone."""
    lib.glActiveTexture(_GL_TEXTURE0 + tex.ctx.default_texture_unit)
    lib.glBindTexture(_GL_TEXTURE_3D, tex.glo)


def _integer(lib: Any, name: int) -> int:
    v = ctypes.c_int(-1)
    lib.glGetIntegerv(name, ctypes.byref(v))
    return v.value


try:
    import moderngl as _moderngl

    _Base: Any = _moderngl.Texture3D
except ImportError:  # no moderngl: nothing here is used
    _Base = object


class StoredTexture3D(_Base):
    """A moderngl ``Texture3D`` made by :func:`empty_r16_texture`: ``read`` and a ``write``
    without a viewport use the texture's real size.

    Attributes
    ----------
    extra_gl
        The GL library (ctypes) that made its storage.
    """

    extra_gl: Any

    def read(self, alignment: int = 1) -> bytes:
        """The texture's bytes, as moderngl's ``read`` gives them (R16: 2 bytes a texel,
        rows padded to ``alignment``)."""
        lib = self.extra_gl  # the library that made it
        nx, ny, nz = self.size
        row = -(-2 * nx // alignment) * alignment
        out = ctypes.create_string_buffer(row * ny * nz)
        _bind(lib, self)
        if _integer(lib, _GL_PIXEL_PACK_BUFFER_BINDING) != 0:
            raise RuntimeError("a pixel pack buffer is bound: read would write into it")
        lib.glPixelStorei(_GL_PACK_ALIGNMENT, alignment)
        lib.glGetTexImage(_GL_TEXTURE_3D, 0, _GL_RED, _GL_UNSIGNED_SHORT, out)
        return out.raw

    def read_into(self, *args: Any, **kwargs: Any) -> None:
        """Not supported (moderngl's would use the 1x1x1 size)."""
        raise NotImplementedError("read_into of a StoredTexture3D: use read()")

    def write(self, data: Any, viewport: Any = None, alignment: int = 1) -> None:
        """moderngl's ``write``; without ``viewport`` the whole texture."""
        if viewport is None:
            viewport = (0, 0, 0, *self.size)
        super().write(data, viewport=viewport, alignment=alignment)


def empty_r16_texture(ctx: Any, size: tuple[int, int, int]) -> StoredTexture3D | None:
    """An empty R16 unorm 3D texture of ``size`` ``(x, y, z)`` in ``ctx`` (current on this
    thread), its storage made with the GIL let go; None where that cannot be done here (the
    caller makes it through moderngl). Raises MemoryError when the GL refuses the storage
    (``GL_OUT_OF_MEMORY``), the texture released."""
    lib = _gl()
    if lib is None or size == (1, 1, 1):
        return None
    if _integer(lib, _GL_PIXEL_UNPACK_BUFFER_BINDING) != 0:
        return None  # a NULL pointer would be an offset into that buffer
    tex = StoredTexture3D.__new__(StoredTexture3D)
    tex.mglo, tex._glo = ctx.mglo.texture3d((1, 1, 1), 1, None, 1, "nu2")
    tex._size, tex._components, tex._dtype = tuple(size), 1, "nu2"
    tex.ctx, tex.extra, tex.extra_gl = ctx, None, lib
    lib.glGetError()  # clear an error left by someone else
    _bind(lib, tex)
    nx, ny, nz = size
    lib.glTexImage3D(
        _GL_TEXTURE_3D, 0, _GL_R16, nx, ny, nz, 0, _GL_RED, _GL_UNSIGNED_SHORT, None
    )  # the long call, GIL let go
    error = lib.glGetError()
    if error == _GL_OUT_OF_MEMORY:
        tex.release()
        raise MemoryError(f"{nx}x{ny}x{nz} x 1 x nu2")
    if error != 0 or _bound_size(lib) != (nx, ny, nz):
        tex.release()  # not the context moderngl drew in, or not this texture
        return None
    return tex
