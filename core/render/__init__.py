"""Rendering: turn a :class:`~ownscan.core.volume.Volume` into a picture.

A :class:`Scene` (volume, visualisation mode, window, transfer function, clipping box, slice
plane) seen by a :class:`Camera` is drawn by a :class:`Renderer`: :class:`GLRenderer` (GLSL
ray-casting with moderngl, headless through EGL or in a window's context) or
:class:`ArrayRenderer` (the same maths on arrays: numpy, or cupy on a CUDA GPU). Both return
RGBA uint8 ``(h, w, 4)`` images, top row first, and agree to a level or two.

Modes (:class:`VisualisationMode`) and presets (:class:`TransferFunction`) are contributed by
plugins through the ``ownscan_modes`` / ``ownscan_transfer_functions`` hooks.
"""

from ownscan.core.render._annotate import annotate, orientation_label, view_labels
from ownscan.core.render._array import ArrayContext, ArrayRenderer, array_module
from ownscan.core.render._backend import BACKENDS, Renderer, create_renderer
from ownscan.core.render._camera import PLANES, Camera
from ownscan.core.render._gl import GLRenderer, GLUnavailable
from ownscan.core.render._scene import (
    ArrayMode,
    RenderNote,
    Scene,
    TransferFunction,
    VisualisationMode,
)
from ownscan.core.render._options import scene_for
from ownscan.core.render._setup import Frame, frame_for, prepare_volume
from ownscan.core.render._shaders import load_shader

__all__ = [
    "BACKENDS",
    "PLANES",
    "ArrayContext",
    "ArrayMode",
    "ArrayRenderer",
    "Camera",
    "Frame",
    "GLRenderer",
    "GLUnavailable",
    "RenderNote",
    "Renderer",
    "Scene",
    "TransferFunction",
    "VisualisationMode",
    "annotate",
    "array_module",
    "create_renderer",
    "frame_for",
    "load_shader",
    "orientation_label",
    "prepare_volume",
    "scene_for",
    "view_labels",
]
