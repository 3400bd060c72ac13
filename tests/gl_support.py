"""GL test support shared by tests/core/render, tests/plugins and tests/shaders: one headless EGL
context for the session, a pending-GL-error check around every GL test, and the GL-vs-array
image comparison (max difference and fraction of pixels, diff PNG written on failure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

MAX_DIFF = 3  # 8-bit levels
MAX_FRACTION_OFF = 0.001  # of pixels differing by more than 2 levels


@pytest.fixture(scope="session")
def gl_ctx() -> Iterator[Any]:
    """A headless OpenGL 3.3 context (Mesa llvmpipe through EGL on CI). Fails, never skips."""
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    yield ctx
    ctx.release()


@pytest.fixture(scope="session")
def gl_renderer(gl_ctx: Any) -> Iterator[Any]:
    from ownscan.core.render import GLRenderer

    # current while made and closed: a context passed in is the caller's to keep current, and
    # the first test to ask for the renderer may not have made it current yet
    with gl_ctx:
        r = GLRenderer(ctx=gl_ctx)
    yield r
    with gl_ctx:
        r.close()


@pytest.fixture(scope="session")
def array_renderer() -> Any:
    from ownscan.core.render import ArrayRenderer

    return ArrayRenderer(prefer_gpu=False)


@pytest.fixture
def gl_check(gl_ctx: Any) -> Iterator[None]:
    """The session context is current (a test may create other contexts), and no GL error may
    be pending before or after the test."""
    with gl_ctx:
        assert gl_ctx.error == "GL_NO_ERROR", "a GL error was pending before the test"
        yield
        assert gl_ctx.error == "GL_NO_ERROR", "the test left a GL error pending"


def assert_same_picture(a: np.ndarray, b: np.ndarray, out_dir: Path, name: str) -> None:
    """GL picture ``a`` vs array picture ``b``: max <= 3 levels, <= 0.1% of pixels off by > 2.

    On failure writes ``name-gl.png``, ``name-array.png`` and ``name-diff.png`` (x10).
    """
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    off = float((diff > 2).mean())
    if diff.max() > MAX_DIFF or off > MAX_FRACTION_OFF:
        from PIL import Image

        out_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(out_dir / f"{name}-gl.png")
        Image.fromarray(b).save(out_dir / f"{name}-array.png")
        Image.fromarray(np.clip(diff * 10, 0, 255).astype(np.uint8)).save(
            out_dir / f"{name}-diff.png"
        )
        pytest.fail(
            f"{name}: GL and array pictures differ: max {diff.max()} levels, "
            f"{off:.4%} of pixels off by > 2 (diff images in {out_dir})"
        )
