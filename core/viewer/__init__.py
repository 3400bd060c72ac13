"""The standalone GPU viewer behind ``ownscan view``: a glfw window with a moderngl context.

The default layout of a 3D series is 2x2 (axial, coronal, sagittal, 3D); everything 2D (a single
image, a series of single images, a multi-frame cine) gets one view without 3D controls, and a
4D series a volume/phase control and a film. Text and controls are drawn with imgui-bundle, in
words a patient understands. See docs/VIEWER.md.
"""

from ownscan.core.viewer._app import SHORTCUTS, Viewer, ViewerError, ViewerOptions
from ownscan.core.viewer._geometry import PLANES, PlaneAxes, orientation_label
from ownscan.core.viewer._layout import Layout, Rect, compute_layout, window_to_fb
from ownscan.core.viewer._marks import StudyDocuments
from ownscan.core.viewer._sources import (
    SeriesEntry,
    entries_from_assembly,
    entries_from_library,
    entries_from_volumes,
    sr_text,
    thumbnail,
)
from ownscan.core.viewer._state import Camera3D, Measurement, SeriesView

__all__ = [
    "PLANES",
    "SHORTCUTS",
    "Camera3D",
    "Layout",
    "Measurement",
    "PlaneAxes",
    "Rect",
    "SeriesEntry",
    "SeriesView",
    "StudyDocuments",
    "Viewer",
    "ViewerError",
    "ViewerOptions",
    "compute_layout",
    "entries_from_assembly",
    "entries_from_library",
    "entries_from_volumes",
    "orientation_label",
    "sr_text",
    "thumbnail",
    "window_to_fb",
]
