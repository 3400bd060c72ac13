"""GL fixtures (see tests/gl_support.py)."""

from gl_support import array_renderer, gl_check, gl_ctx, gl_renderer

__all__ = ["array_renderer", "gl_check", "gl_ctx", "gl_renderer"]
