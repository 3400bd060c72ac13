"""Compare a new scan with an old one: registration, prior finding, side-by-side pictures.

Public API::

    from ownscan.core.compare import register

    reg = register(prior_volume, current_volume)   # rigid, Mattes mutual information
    reg.matrix        # 4x4: current LPS mm -> prior LPS mm
    reg.quality, reg.poor, reg.notes

Registration needs SimpleITK (``pip install ownscan[compare]``); everything else here is numpy.
docs/COMPARE.md tells the whole story.
"""

from __future__ import annotations

from ownscan.core.compare._camera import linked_camera
from ownscan.core.compare._picture import (
    MODES,
    ComparisonPicture,
    ComparisonPlanes,
    Plane,
    compare_planes,
    difference_rgb,
    difference_scale,
    draw_comparison,
    grey_rgb,
    intensity_match,
    overlay_rgb,
    plane_through,
    sample,
)
from ownscan.core.compare._priors import (
    PriorCandidate,
    load_registration,
    patient_check,
    propose_priors,
    save_registration,
)
from ownscan.core.compare._register import (
    POOR_OVERLAP,
    POOR_QUALITY,
    RIGID_METHOD,
    SCANNER_METHOD,
    Registration,
    register,
    scanner_registration,
)
from ownscan.core.compare._sitk import INSTALL_HINT, is_available, to_sitk

__all__ = [
    "INSTALL_HINT",
    "MODES",
    "POOR_OVERLAP",
    "POOR_QUALITY",
    "RIGID_METHOD",
    "SCANNER_METHOD",
    "ComparisonPicture",
    "ComparisonPlanes",
    "Plane",
    "PriorCandidate",
    "Registration",
    "compare_planes",
    "difference_rgb",
    "difference_scale",
    "draw_comparison",
    "grey_rgb",
    "intensity_match",
    "is_available",
    "linked_camera",
    "load_registration",
    "overlay_rgb",
    "patient_check",
    "plane_through",
    "propose_priors",
    "register",
    "sample",
    "save_registration",
    "scanner_registration",
    "to_sitk",
]
