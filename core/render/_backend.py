"""Choosing a renderer: ``gl``, ``cpu`` or ``auto`` (GL when a context opens, else arrays)."""

from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError
from ownscan.core.render._camera import Camera
from ownscan.core.render._scene import Scene

__all__ = ["BACKENDS", "Renderer", "create_renderer"]

BACKENDS = ("gl", "cpu", "auto")


@runtime_checkable
class Renderer(Protocol):
    """Anything that draws a scene: ``render(scene, camera, size) -> RGBA uint8 (h, w, 4)``."""

    name: str
    notes: list[str]

    def render(
        self, scene: Scene, camera: Camera, size: tuple[int, int], interactive: bool = False
    ) -> npt.NDArray[np.uint8]:
        """The picture, top row first, premultiplied over black."""
        ...

    def close(self) -> None:
        """Release what the renderer holds."""
        ...


def create_renderer(backend: str = "auto", quiet: bool = False) -> Renderer:
    """A renderer for ``backend``.

    Parameters
    ----------
    backend
        ``"gl"`` (OpenGL through EGL; fails if no context opens), ``"cpu"`` (the array
        renderer: numpy, or cupy on a usable CUDA GPU) or ``"auto"`` (GL, else the array
        renderer with a message on stderr saying why).
    quiet
        Do not print the fallback message.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    from ownscan.core.render._array import ArrayRenderer

    if backend == "cpu":
        return ArrayRenderer()
    from ownscan.core.render._gl import GLRenderer, GLUnavailable

    if backend == "gl":
        return GLRenderer()
    try:
        return GLRenderer()
    except GLUnavailable as exc:
        fallback = ArrayRenderer()
        if not quiet:
            print(
                f"ownscan: OpenGL unavailable ({exc}); rendering with the array renderer "
                f"({fallback.name}), which is slower",
                file=sys.stderr,
            )
        return fallback
