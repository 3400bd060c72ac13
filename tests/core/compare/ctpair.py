"""The CT phantom pair of the compare tests: a prior chest CT and, a year later, the same chest
moved, on another grid, with a new 8 mm lesion (tests/core/ctgen.py's generated chest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from ctgen import ct_phantom_slice
from volgen import moved_copy, rigid, write_volume_series

from ownscan.core import load_volume
from ownscan.core.volume import SeriesInfo, Volume

PATIENT = SeriesInfo(
    patient_name="PHANTOM^CT", patient_id="CT-1", patient_birth_date="19600101", body_part="CHEST"
)
SHAPE = (40, 112, 112)  # (z, y, x)
SPACING = (1.6, 1.6, 3.0)  # (i, j, k) mm
LESION = np.array([0.0, -50.0, -12.0])  # current LPS mm: anterior soft tissue, in no organ
LESION_HU = 90.0


def _prior_voxels() -> np.ndarray:
    """The generated chest (tests/core/ctgen.py) with a CT scanner's blur (2 mm) and noise."""
    rng = np.random.default_rng(7)
    z, y, x = SHAPE
    hu = np.stack([ct_phantom_slice(y, x, k / (z - 1), rng) for k in range(z)]).astype(np.float32)
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing(SPACING)
    smooth = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, 2.0))
    return smooth + rng.normal(0.0, 6.0, smooth.shape).astype(np.float32)


def write_ct_pair(root: Path) -> dict[str, object]:
    """A prior CT and, a year later, the same chest moved (5 degrees about an oblique axis,
    11 mm) on another grid with a new 8 mm lesion, each written as DICOM with its own Frame of
    Reference UID."""
    origin = -0.5 * np.asarray(SPACING) * (np.asarray(SHAPE[::-1]) - 1)
    write_volume_series(
        root / "prior",
        _prior_voxels(),
        spacing=SPACING,
        origin=origin,
        direction=np.eye(3),
        modality="CT",
        info=PATIENT,
        study_date="20240110",
        description="CT chest 2024",
    )
    prior = load_volume(root / "prior")
    truth = rigid((0.2, 0.3, 1.0), 5.0, (6.0, -4.0, 7.0), (0.0, 0.0, 0.0))
    cur_origin = origin + np.array([3.0, -2.0, 4.5])
    voxels = moved_copy(prior, truth, shape=SHAPE, spacing=SPACING, origin=cur_origin)
    cur_grid = Volume(voxels, spacing=SPACING, origin=cur_origin)
    z, y, x = np.indices(SHAPE)
    lps = cur_grid.index_to_lps(np.stack([x, y, z], axis=-1).reshape(-1, 3)).reshape(*SHAPE, 3)
    r = np.linalg.norm(lps - LESION, axis=-1)
    voxels += LESION_HU * np.clip(4.0 - r + 0.5, 0.0, 1.0)  # 8 mm across, a soft edge
    voxels += np.random.default_rng(8).normal(0.0, 6.0, voxels.shape).astype(np.float32)
    write_volume_series(
        root / "current",
        voxels,
        spacing=SPACING,
        origin=cur_origin,
        direction=np.eye(3),
        modality="CT",
        info=PATIENT,
        study_date="20250115",
        description="CT chest 2025",
    )
    return {"root": root, "prior": prior, "current": load_volume(root / "current"), "truth": truth}


def ownscan_import(source: Path, library: Path) -> None:
    """``ownscan import SOURCE --library LIBRARY`` as a user runs it (the venv's command)."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("ownscan")
    done = subprocess.run(
        [str(exe), "import", str(source), "--library", str(library)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
