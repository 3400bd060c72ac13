"""Rigid registration of two Volumes: the transform from the current series to the prior.

About the technique
-------------------
Both Volumes are already placed in patient coordinates (LPS mm) by their DICOM geometry
(:attr:`Volume.affine`), so registration only has to find what moved between the two visits:
the patient's position in the scanner (a rigid motion: 3 rotations and 3 translations).

* **Start.** Two series with the same Frame of Reference UID share one coordinate system, so
  the start is the identity. Otherwise (another visit, another scanner) the coordinates are
  unrelated and the start is the translation that puts the two intensity centres of mass on
  each other (``sitk.CenteredTransformInitializer``, MOMENTS).
* **Working grid.** Each image is first averaged down (``BinShrink``, whole voxels, so no
  aliasing) to voxels of at least :data:`WORK_MM` along every axis: a 512x512x300 CT becomes
  a quarter of its size. Sub-millimetre accuracy needs no finer grid, because the metric is
  interpolated (linear) and the optimiser stops far below one voxel.
* **Metric.** Mattes mutual information (50 bins): it only asks that the intensities of one
  image *predict* those of the other, so CT-CT, MR-MR and MR of different contrasts work
  alike. It is evaluated on a fixed random sample of :data:`SAMPLES` points per level (seeded,
  so a run is reproducible), with the image gradients taken at those points only (ITK's
  default filters both whole images for their gradients at every level, which costs more than
  all the iterations together on a 512x512x300 CT).
* **Pyramid.** Three levels, each registering both images averaged down by 4, 2 and 1
  (``BinShrink``; ITK's own pyramid shrinks only the fixed image and smooths the full-size
  moving one), from coarse to fine, so a large initial offset does not trap the optimiser in a
  local optimum and most iterations run on small images.
* **Optimiser.** Regular-step gradient descent on the 6 Euler parameters, scales from the
  physical shift (a step is measured in mm of motion at the image's corners); per level the
  first step is 4, 1 and 0.5 mm and the last below 0.05, 0.02 and 0.005 mm.

The fixed image is the **current** series and the moving one the **prior**, so the transform
ITK finds maps a point of the current (LPS mm) to the same anatomy in the prior: exactly the
matrix :attr:`Registration.matrix` reports.

Quality
-------
``metric`` is the final Mattes value (minus the mutual information, lower is better; its scale
depends on the images). ``quality`` is a normalised figure in 0..1 that means the same for any
pair: the *symmetric uncertainty* ``2 I(A;B) / (H(A) + H(B))`` of the current image ``A`` and
the registered prior ``B``, measured at every second voxel of the working grid over the voxels
where either holds signal (air around the body would otherwise count as agreement), with 32-bin
histograms between each image's 1st and 99th percentile. 1 means one image predicts the other
perfectly, 0 that they are unrelated. ``overlap`` is the fraction of the current's signal
voxels that land inside the prior's field of view. A result is **poor** when ``quality <
POOR_QUALITY`` or ``overlap < POOR_OVERLAP``; the thresholds were set between correct
registrations of the test pairs (real head MR, CT phantom: quality 0.45-0.9) and deliberately
wrong ones (the same pairs 10-20 mm off, unrelated images: below 0.1); see
docs/COMPARE.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ownscan.core.compare._sitk import require_sitk, to_sitk

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = [
    "POOR_OVERLAP",
    "POOR_QUALITY",
    "RIGID_METHOD",
    "SAMPLES",
    "SCANNER_METHOD",
    "WORK_MM",
    "Registration",
    "register",
    "scanner_registration",
]

RIGID_METHOD = "rigid-mattes-mi-v1"
"""The method name stored with a result; a change of the algorithm or its settings gets a new
name, so results stored by an older ownscan are not mistaken for this one's."""
SCANNER_METHOD = "scanner"
"""No registration: the two series' own patient coordinates are taken as they are."""

WORK_MM = 1.5
SAMPLES = 30_000
POOR_QUALITY = 0.3
POOR_OVERLAP = 0.5


@dataclass(frozen=True)
class _Level:
    """One level of the pyramid: images averaged down by ``shrink``; the optimiser's first
    and smallest step (mm at the image's far corners) and its iteration limit."""

    shrink: int
    step_mm: float
    min_step_mm: float
    iterations: int


_LEVELS = (
    _Level(4, 4.0, 0.05, 200),
    _Level(2, 1.0, 0.02, 150),
    _Level(1, 0.5, 0.005, 100),
)


def _shrunk(image: Any, factor: int) -> Any:
    """``image`` averaged down by ``factor`` along each axis (never below 16 voxels)."""
    if factor == 1:
        return image
    sitk = require_sitk()
    factors = [max(1, min(factor, n // 16)) for n in image.GetSize()]
    return sitk.BinShrink(image, factors) if any(f > 1 for f in factors) else image


@dataclass(frozen=True)
class Registration:
    """The result of registering a current series onto a prior one.

    Attributes
    ----------
    matrix
        4x4, maps the current series' LPS mm (column vector ``(x, y, z, 1)``) to the prior's.
    method
        :data:`RIGID_METHOD` or :data:`SCANNER_METHOD`.
    metric
        Final Mattes mutual information value (negative; lower is better), None for scanner.
    quality
        Normalised figure 0..1 (see the module docstring), None when not measured.
    overlap
        Fraction of the current's signal inside the prior's field of view, None when not
        measured.
    start
        How the optimiser was started (``"identity"`` or ``"centre of mass"``).
    seconds
        Time the registration took.
    notes
        What the user should know (why it is poor, scanner coordinates across frames...).
    """

    matrix: npt.NDArray[np.float64]
    method: str
    metric: float | None = None
    quality: float | None = None
    overlap: float | None = None
    start: str = ""
    seconds: float = 0.0
    iterations: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def poor(self) -> bool:
        """True when the quality or the overlap is below its threshold."""
        return (self.quality is not None and self.quality < POOR_QUALITY) or (
            self.overlap is not None and self.overlap < POOR_OVERLAP
        )

    @property
    def rotation_degrees(self) -> float:
        """The angle of the rotation part."""
        r = self.matrix[:3, :3]
        return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))

    @property
    def translation_mm(self) -> float:
        """How far the current's origin of coordinates moves (length of the translation)."""
        return float(np.linalg.norm(self.matrix[:3, 3]))

    def apply(self, points_lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map current LPS points ``(..., 3)`` to the prior's LPS."""
        p = np.asarray(points_lps, dtype=np.float64)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the matrix row-major as a list of 4 rows."""
        return {
            "transform": [[float(v) for v in row] for row in self.matrix],
            "transform_maps": "current LPS mm -> prior LPS mm",
            "method": self.method,
            "metric": self.metric,
            "quality": self.quality,
            "overlap": self.overlap,
            "poor": self.poor,
            "poor_below": {"quality": POOR_QUALITY, "overlap": POOR_OVERLAP},
            "rotation_degrees": round(self.rotation_degrees, 4),
            "translation_mm": round(self.translation_mm, 4),
            "start": self.start,
            "seconds": round(self.seconds, 3),
            "iterations": self.iterations,
            "notes": list(self.notes),
        }


def scanner_registration(prior: Volume, current: Volume) -> Registration:
    """The identity: each series' own patient coordinates, no registration."""
    notes: list[str] = []
    a, b = prior.info.frame_of_reference_uid, current.info.frame_of_reference_uid
    if not a or not b or a != b:
        notes.append(
            "scanner coordinates of different frames of reference (another visit or scanner): "
            "the same coordinates need not be the same anatomy"
        )
    return Registration(np.eye(4), SCANNER_METHOD, notes=tuple(notes))


def _work_image(volume: Volume) -> Any:
    """The Volume as a float32 image averaged down to voxels of at least WORK_MM."""
    sitk = require_sitk()
    # averaged down in the stored type (int16 for CT: a quarter of the float32 copy's memory)
    image = to_sitk(volume, dtype=None)
    factors = [max(1, int(WORK_MM / s + 1e-6)) for s in volume.spacing]
    # never below 16 voxels along an axis (thin stacks keep their slices)
    factors = [min(f, max(1, n // 16)) for f, n in zip(factors, image.GetSize(), strict=True)]
    if any(f > 1 for f in factors):
        image = sitk.BinShrink(image, factors)
    return sitk.Cast(image, sitk.sitkFloat32)


def _euler_matrix(transform: Any) -> npt.NDArray[np.float64]:
    """The 4x4 of ITK's ``T(x) = R (x - c) + c + t``."""
    m = np.eye(4)
    r = np.asarray(transform.GetMatrix(), dtype=np.float64).reshape(3, 3)
    c = np.asarray(transform.GetCenter(), dtype=np.float64)
    t = np.asarray(transform.GetTranslation(), dtype=np.float64)
    m[:3, :3] = r
    m[:3, 3] = c + t - r @ c
    return m


def register(
    prior: Volume,
    current: Volume,
    *,
    same_frame: bool | None = None,
    threads: int | None = None,
) -> Registration:
    """Find the rigid motion that maps the current series' anatomy onto the prior's.

    Parameters
    ----------
    prior, current
        Grey Volumes (any modality; any grid and orientation).
    same_frame
        Whether the two share one Frame of Reference (identity start); by default read from
        the Volumes' ``info.frame_of_reference_uid``.
    threads
        Threads for ITK (default: ITK's own choice, every core).

    Returns
    -------
    Registration
        ``matrix`` maps current LPS to prior LPS; check :attr:`Registration.poor`.
    """
    sitk = require_sitk()
    t0 = time.perf_counter()
    if same_frame is None:
        a, b = prior.info.frame_of_reference_uid, current.info.frame_of_reference_uid
        same_frame = bool(a) and a == b
    fixed = _work_image(current)
    moving = _work_image(prior)

    if same_frame:
        initial = sitk.Euler3DTransform()
        # rotate about the current's centre (better conditioned than about the LPS origin)
        centre = fixed.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2.0 for n in fixed.GetSize()]
        )
        initial.SetCenter(centre)
        start = "identity"
    else:
        initial = sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS
        )
        start = "centre of mass"

    euler = sitk.Euler3DTransform(initial)
    iterations = 0
    metric = 0.0
    for level in _LEVELS:
        # both images averaged down by the level's factor (ITK's own pyramid shrinks only the
        # fixed image and smooths the full-size moving one, which costs more than the metric)
        f, m = _shrunk(fixed, level.shrink), _shrunk(moving, level.shrink)
        method = sitk.ImageRegistrationMethod()
        if threads is not None:
            method.SetNumberOfThreads(int(threads))
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
        # image gradients at the sample points only (central differences), not filtered
        # gradient images of both whole images at every level, which cost more than the metric
        method.MetricUseFixedImageGradientFilterOff()
        method.MetricUseMovingImageGradientFilterOff()
        method.SetMetricSamplingStrategy(method.RANDOM)
        share = min(1.0, SAMPLES / float(np.prod(f.GetSize())))
        method.SetMetricSamplingPercentage(share, seed=20240102)
        method.SetInterpolator(sitk.sitkLinear)
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=level.step_mm,
            minStep=level.min_step_mm,
            numberOfIterations=level.iterations,
            relaxationFactor=0.7,
            gradientMagnitudeTolerance=1e-8,
        )
        method.SetOptimizerScalesFromPhysicalShift()
        method.SetInitialTransform(euler, inPlace=True)
        method.Execute(f, m)
        iterations += int(method.GetOptimizerIteration())
        metric = float(method.GetMetricValue())
    matrix = _euler_matrix(euler)
    quality, overlap = _quality(fixed, moving, euler)
    notes: list[str] = []
    if quality < POOR_QUALITY:
        notes.append(
            f"poor registration: quality {quality:.2f} is below {POOR_QUALITY} "
            "(the images do not predict each other well after alignment)"
        )
    if overlap < POOR_OVERLAP:
        notes.append(
            f"poor registration: only {overlap:.0%} of the current series lies inside the "
            "prior's field of view"
        )
    return Registration(
        matrix=matrix,
        method=RIGID_METHOD,
        metric=metric,
        quality=quality,
        overlap=overlap,
        start=start,
        seconds=time.perf_counter() - t0,
        iterations=iterations,
        notes=tuple(notes),
    )


def _signal(values: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    """1st and 99th percentile, and a signal threshold 10% of the way between them."""
    lo, hi = (float(v) for v in np.percentile(values, [1.0, 99.0]))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, lo + 0.1 * (hi - lo)


def _quality(fixed: Any, moving: Any, transform: Any) -> tuple[float, float]:
    """Symmetric uncertainty over the signal voxels, and the overlap (module docstring)."""
    sitk = require_sitk()
    nan = float("nan")
    # every 2nd voxel along each axis of the fixed image (a sample, not an average, so the
    # histograms keep their sharpness): the same figure to about 0.01, an eighth of the work
    if min(fixed.GetSize()) >= 32:
        fixed = fixed[::2, ::2, ::2]
    warped = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, nan, sitk.sitkFloat32)
    a = sitk.GetArrayViewFromImage(fixed).ravel()
    b = sitk.GetArrayViewFromImage(warped).ravel()
    a_lo, a_hi, a_thr = _signal(a)
    mov = sitk.GetArrayViewFromImage(moving).ravel()
    b_lo, b_hi, b_thr = _signal(mov)
    inside = np.isfinite(b)
    a_signal = a > a_thr
    overlap = float((a_signal & inside).sum() / max(1, a_signal.sum()))
    use = inside & (a_signal | (np.nan_to_num(b, nan=b_lo) > b_thr))
    if use.sum() < 100:
        return 0.0, overlap
    bins = 32
    ia = np.clip(((a[use] - a_lo) / (a_hi - a_lo) * bins).astype(np.int64), 0, bins - 1)
    ib = np.clip(((b[use] - b_lo) / (b_hi - b_lo) * bins).astype(np.int64), 0, bins - 1)
    joint = np.bincount(ia * bins + ib, minlength=bins * bins).astype(np.float64)
    joint /= joint.sum()
    pa, pb = joint.reshape(bins, bins).sum(axis=1), joint.reshape(bins, bins).sum(axis=0)

    def entropy(p: npt.NDArray[np.float64]) -> float:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    ha, hb, hab = entropy(pa), entropy(pb), entropy(joint)
    if ha + hb <= 0:
        return 0.0, overlap
    return float(2.0 * (ha + hb - hab) / (ha + hb)), overlap


def _measure(
    prior: Volume, current: Volume, matrix: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """Quality and overlap of any current -> prior matrix (e.g. a stored or a perturbed one)."""
    sitk = require_sitk()
    t = sitk.AffineTransform(3)
    t.SetMatrix([float(v) for v in np.asarray(matrix)[:3, :3].ravel()])
    t.SetTranslation([float(v) for v in np.asarray(matrix)[:3, 3]])
    return _quality(_work_image(current), _work_image(prior), t)
