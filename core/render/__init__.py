"""Rendering: turn a :class:`~ownscan.core.volume.Volume` into a picture.

A :class:`Scene` (volume, visualisation mode, window, transfer function, clipping box, slice
plane) seen by a :class:`Camera` is drawn by a :class:`Renderer`: :class:`GLRenderer` (GLSL
ray-casting with moderngl, headless through EGL or in a window's context; its volume is a
:class:`GpuVolume`, which a window's other views may sample too) or
:class:`ArrayRenderer` (the same maths on arrays: numpy, or cupy on a CUDA GPU). Both return
RGBA uint8 ``(h, w, 4)`` images, top row first, and agree to a level or two.

Modes (:class:`VisualisationMode`) and presets (:class:`TransferFunction`) are contributed by
plugins through the ``ownscan_modes`` / ``ownscan_transfer_functions`` hooks.
"""

from ownscan.core.render._annotate import annotate, orientation_label, view_labels
from ownscan.core.render._array import ArrayContext, ArrayRenderer, array_module
from ownscan.core.render._backend import BACKENDS, Renderer, create_renderer
from ownscan.core.render._camera import PLANES, Camera
from ownscan.core.render._colour import colour_channels, colour_mpr, colour_mprs, spatial_colour
from ownscan.core.render._gl import GLRenderer, GLUnavailable
from ownscan.core.render._gpu import GpuVolume
from ownscan.core.render._image2d import (
    Picture2D,
    display_values,
    draw_image,
    image_labels,
    scale_words,
)
from ownscan.core.render._scene import (
    ArrayMode,
    RenderNote,
    Scene,
    SkipRule,
    TransferFunction,
    VisualisationMode,
)
from ownscan.core.render._setup import Frame, frame_for, plane_offsets_mm, prepare_volume
from ownscan.core.render._shaders import load_shader
from ownscan.core.render._view import MINIP_SLAB_MM, view_from_options, window_from_options

__all__ = [
    "BACKENDS",
    "MINIP_SLAB_MM",
    "PLANES",
    "ArrayContext",
    "ArrayMode",
    "ArrayRenderer",
    "Camera",
    "Frame",
    "GLRenderer",
    "GLUnavailable",
    "GpuVolume",
    "Picture2D",
    "RenderNote",
    "Renderer",
    "Scene",
    "SkipRule",
    "TransferFunction",
    "VisualisationMode",
    "annotate",
    "array_module",
    "colour_channels",
    "colour_mpr",
    "colour_mprs",
    "create_renderer",
    "display_values",
    "draw_image",
    "frame_for",
    "image_labels",
    "load_shader",
    "orientation_label",
    "plane_offsets_mm",
    "prepare_volume",
    "scale_words",
    "spatial_colour",
    "view_from_options",
    "view_labels",
    "window_from_options",
]
