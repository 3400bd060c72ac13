"""The Volume: voxels plus the geometry that places them in the patient.

About the geometry
------------------
DICOM describes every image in the patient coordinate system LPS (x towards the patient's
Left, y towards Posterior, z towards Superior, in millimetres). A Volume keeps its voxels in a
numpy array indexed ``voxels[k, j, i]`` (slice, row, column: numpy's ``(z, y, x)``) and the
mapping from the voxel index ``(i, j, k)`` to LPS::

    p_lps = origin + direction @ (spacing * (i, j, k))

``direction`` is a 3x3 matrix whose *columns* are the unit vectors along which ``i`` (along a
row: DICOM's first ImageOrientationPatient triplet), ``j`` (down a column: the second triplet)
and ``k`` (from slice to slice: the sorted slice normal) increase. ``spacing`` is given in the
same ``(i, j, k)`` order, like ITK's. ``origin`` is the centre of voxel ``(0, 0, 0)``: the
ImagePositionPatient of the first slice after sorting.

Everything that reads a Volume (NIfTI export, the renderers, measurements, the viewer) uses
:attr:`Volume.affine` and nothing else for geometry, so there is one place where a left/right
or head/feet mistake could live, and the tests pin it against dcm2niix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError

__all__ = ["Dimension", "Lut", "SeriesInfo", "Volume", "WindowPreset", "values_phrase"]


@dataclass(frozen=True)
class WindowPreset:
    """A display window: the grey ramp spans ``level - width/2 .. level + width/2``.

    Parameters
    ----------
    name
        What the user sees, e.g. ``"brain"`` or ``"from file 1"``.
    width, level
        In the Volume's units (Hounsfield units for CT).
    """

    name: str
    width: float
    level: float

    def __post_init__(self) -> None:
        if not (self.width > 0):
            raise UsageError(f"window width must be > 0, got {self.width!r} for {self.name!r}")


@dataclass(frozen=True)
class Lut:
    """A DICOM lookup table (a Modality or VOI LUT Sequence item).

    A stored value ``v`` maps to ``data[v - first]``, clamped to the table's ends; the output
    has ``bits`` bits (VOI LUTs: ``2**bits - 1`` is white).
    """

    explanation: str
    first: int
    bits: int
    data: tuple[int, ...]

    def apply(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The table's output for ``values`` (any shape)."""
        idx = np.clip(np.rint(np.asarray(values, dtype=np.float64)) - self.first, 0, None)
        table = np.asarray(self.data, dtype=np.float64)
        return table[np.minimum(idx.astype(np.int64), len(table) - 1)]


@dataclass(frozen=True)
class SeriesInfo:
    """The descriptive metadata a viewer shows; every field may be empty."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_instance_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    series_instance_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    body_part: str = ""
    manufacturer: str = ""
    institution: str = ""
    frame_of_reference_uid: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (for JSON output)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Dimension:
    """What the 4th axis of a series means: one entry per volume, in volume order.

    A 4D series is an ordered sequence of 3D :class:`Volume` s that share one geometry
    (``Series.load(volume=n)``); this says what tells them apart.

    Parameters
    ----------
    name
        ``"time"`` (a time series: fMRI, perfusion, dynamic contrast), ``"diffusion"``,
        ``"cardiac phase"``, ``"acquisition"`` (repeated acquisitions, multi-phase CT) or
        ``"repetition"`` (nothing but the order of the files tells them apart).
    source
        The DICOM attribute(s) the volumes were told apart and ordered by.
    values
        One number per volume in ``unit`` (time in s from the first volume, trigger delay in
        ms, b-value in s/mm², acquisition or temporal position number), None where unknown.
    unit
        ``"s"``, ``"ms"``, ``"s/mm2"`` or ``""``.
    b_values, b_vectors
        Diffusion weighting per volume and the unit gradient direction in patient LPS
        (``(0, 0, 0)`` for b = 0), when the headers carry them; else empty.
    """

    name: str
    source: str
    values: tuple[float | None, ...]
    unit: str = ""
    b_values: tuple[float, ...] = ()
    b_vectors: tuple[tuple[float, float, float], ...] = ()

    def __len__(self) -> int:
        return len(self.values)

    def bvecs_fsl(self, affine_ras: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The b-vectors as FSL (and dcm2niix's ``.bvec``) want them, ``(3, n)``.

        FSL reads gradient directions in the voxel axes of the image (i, j, k), with the i
        component negated when the NIfTI affine has a positive determinant (FSL works in a
        radiological voxel frame). ``affine_ras`` is the NIfTI affine the image is written with.
        """
        a = np.asarray(affine_ras, dtype=np.float64)[:3, :3]
        axes = a / np.linalg.norm(a, axis=0)  # RAS unit vectors of i, j, k
        g = np.asarray(self.b_vectors, dtype=np.float64).reshape(-1, 3)
        g_ras = g * np.array([-1.0, -1.0, 1.0])
        v = g_ras @ axes  # components along i, j, k (orthonormal axes)
        if np.linalg.det(a) > 0:
            v[:, 0] = -v[:, 0]
        v[np.abs(v) < 5e-7] = 0.0  # no "-0" in the text files
        return v.T

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "unit": self.unit,
            "values": list(self.values),
        }
        if self.b_values:
            out["b_values"] = list(self.b_values)
            out["b_vectors_lps"] = [list(v) for v in self.b_vectors]
        return out

    def label(self, index: int) -> str:
        """Which volume ``index`` (0-based) is, in words, e.g. ``"volume 3/60 · b=1000 s/mm2"``,
        ``"phase 2/3 · 120 ms"``, ``"volume 5/100 · 8 s"`` (what a viewer's overlay shows)."""
        n = len(self.values)
        word = {"cardiac phase": "phase", "acquisition": "acquisition"}.get(self.name, "volume")
        out = f"{word} {index + 1}/{n}"
        value = self.values[index] if 0 <= index < n else None
        if self.name == "diffusion" and self.b_values and 0 <= index < len(self.b_values):
            out += f" · b={self.b_values[index]:g}" + (f" {self.unit}" if self.unit else "")
        elif value is not None and self.name in ("time", "cardiac phase"):
            out += f" · {value:g}" + (f" {self.unit}" if self.unit else "")
        return out

    def describe(self) -> str:
        """One phrase, e.g. ``"30 diffusion volumes (b 0..1000 s/mm2)"``."""
        n = len(self.values)
        known = [v for v in self.values if v is not None]
        rng = ""
        if known:
            lo, hi = min(known), max(known)
            rng = f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"
            rng += f" {self.unit}" if self.unit else ""
            rng = f" ({'b ' if self.name == 'diffusion' else ''}{rng}, by {self.source})"
        return f"{n} {self.name} volumes{rng}"


def values_phrase(modality: str, units: str) -> str:
    """How listings name a volume's values where that is more than grey levels and not CT's
    HU (``info``, the viewer's series panel, ``render``): ``"dose in Gy"``, ``"relative dose"``,
    ``"values in ms"``; ``""`` for none."""
    if modality.upper() == "RTDOSE" and units:
        return "relative dose" if units == "relative" else f"dose in {units}"
    if not units or units == "HU":
        return ""
    return f"values in {units}"


def _as_direction(direction: npt.ArrayLike) -> npt.NDArray[np.float64]:
    d = np.asarray(direction, dtype=np.float64)
    if d.shape != (3, 3):
        raise ValueError(f"direction must be a 3x3 matrix, got shape {d.shape}")
    norms = np.linalg.norm(d, axis=0)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ValueError(f"direction columns must be unit vectors, got norms {norms.round(4)}")
    return d / norms


@dataclass(eq=False)
class Volume:
    """Voxels ``(z, y, x)`` (or ``(z, y, x, samples)`` for colour) with their patient geometry.

    Parameters
    ----------
    voxels
        The image data in a compact dtype: int16 Hounsfield units for CT after rescale, the stored
        integer type where no rescale applies, float32 only where slope/intercept demand it,
        uint8 ``(z, y, x, 3)`` for RGB. Never float64.
    spacing
        Voxel size in mm along ``(i, j, k)`` = ``(x, y, z)`` array axes reversed: column, row,
        slice.
    origin
        LPS position (mm) of the centre of voxel ``[0, 0, 0]``.
    direction
        3x3, columns are the LPS unit vectors of the ``i``, ``j``, ``k`` axes.
    modality
        DICOM modality (``CT``, ``MR``, ``CR``...).
    units
        ``"HU"`` for CT, ``"Gy"`` or ``"relative"`` for an RT Dose grid (Dose Units; never
        HU), otherwise what the data say (a Rescale Type, a mapping's units; often ``""``).
    windows
        Window presets stored in the data (first one is the default), possibly empty.
    info
        Descriptive metadata (patient, study, series).
    warnings
        Things the user must be told about this volume (irregular spacing, resampled tilt...).
    invert
        True for MONOCHROME1 data: low values are displayed bright. The voxels keep their
        stored meaning; only display inverts.
    orientation_source, patient_orientation, spacing_source, voi_function, presentation_shape,
    modality_lut, voi_luts
        Where the picture's orientation and scale come from, and the file's display rules (2D
        images: radiographs, ultrasound, secondary captures).
    """

    voxels: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = ""
    units: str = ""
    windows: Sequence[WindowPreset] = ()
    info: SeriesInfo = field(default_factory=SeriesInfo)
    warnings: list[str] = field(default_factory=list)
    invert: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    # -- 2D pictures (issue 15): where orientation, scale and display rules come from ---------
    #: "patient": ``direction`` is Image Orientation (Patient); "patient_orientation": only
    #: :attr:`patient_orientation` is known; "": nothing (no orientation labels, ever)
    orientation_source: str = "patient"
    #: Patient Orientation: the patient directions of the rows and of the columns, e.g.
    #: ``("L", "F")`` (letters L R A P H F)
    patient_orientation: tuple[str, str] | None = None
    #: "pixel" (Pixel Spacing), "detector" (Imager Pixel Spacing: sizes at the detector),
    #: "scanned" (digitised film), "ultrasound" (Ultrasound Regions), "" (unknown: the
    #: ``spacing`` is a stand-in of 1 and only pixels may be shown)
    spacing_source: str = "pixel"
    #: VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID) for the file's windows
    voi_function: str = ""
    #: Presentation LUT Shape (IDENTITY, INVERSE) of the file, "" when absent
    presentation_shape: str = ""
    #: the file's Modality LUT (not applied to ``voxels``: 2D display applies it), if any
    modality_lut: Lut | None = None
    #: the file's VOI LUTs (used for display when the file gives no window)
    voi_luts: tuple[Lut, ...] = ()

    def __post_init__(self) -> None:
        v = np.asarray(self.voxels)
        if v.ndim not in (3, 4):
            raise ValueError(f"voxels must be (z, y, x) or (z, y, x, samples), got shape {v.shape}")
        if v.dtype == np.float64:
            raise ValueError("voxels must not be float64; use float32 or an integer type")
        self.voxels = v
        sp = tuple(float(s) for s in self.spacing)
        if len(sp) != 3 or not all(s > 0 and np.isfinite(s) for s in sp):
            raise ValueError(f"spacing must be three positive numbers (mm), got {self.spacing!r}")
        self.spacing = (sp[0], sp[1], sp[2])
        o = tuple(float(x) for x in self.origin)
        if len(o) != 3:
            raise ValueError(f"origin must be three numbers (mm), got {self.origin!r}")
        self.origin = (o[0], o[1], o[2])
        self.direction = _as_direction(self.direction)

    # -- shape ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(z, y, x)`` = (slices, rows, columns)."""
        s = self.voxels.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def samples(self) -> int:
        """Samples per voxel: 1 for grey images, 3 for RGB."""
        return 1 if self.voxels.ndim == 3 else int(self.voxels.shape[3])

    @property
    def is_2d(self) -> bool:
        """A single image (radiograph, secondary capture): one slice."""
        return self.shape[0] == 1

    @property
    def orientation_known(self) -> bool:
        """Whether the patient directions of the image axes are known (labels may be drawn)."""
        return self.orientation_source != ""

    @property
    def spacing_known(self) -> bool:
        """Whether millimetres mean anything (else sizes are in pixels only)."""
        return self.spacing_source != ""

    @property
    def nbytes(self) -> int:
        return int(self.voxels.nbytes)

    # -- geometry ------------------------------------------------------------------------------
    @property
    def affine(self) -> npt.NDArray[np.float64]:
        """4x4 matrix mapping the voxel index ``(i, j, k, 1)`` to LPS millimetres."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    @property
    def affine_ras(self) -> npt.NDArray[np.float64]:
        """The same mapping into RAS (NIfTI's convention): x and y negated."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine

    def index_to_lps(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """LPS mm of voxel index/indices ``(..., 3)`` given as ``(i, j, k)``."""
        p = np.asarray(ijk, dtype=np.float64)
        return p @ (self.direction * np.asarray(self.spacing)[None, :]).T + np.asarray(self.origin)

    def lps_to_index(self, lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Continuous ``(i, j, k)`` index of LPS point(s) ``(..., 3)``."""
        p = np.asarray(lps, dtype=np.float64) - np.asarray(self.origin)
        m = self.direction * np.asarray(self.spacing)[None, :]
        return np.linalg.solve(m, p.T).T if p.ndim > 1 else np.linalg.solve(m, p)

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Physical size along ``(i, j, k)`` in mm (voxel centre to centre plus one voxel)."""
        z, y, x = self.shape
        sx, sy, sz = self.spacing
        return (x * sx, y * sy, z * sz)

    # -- display -------------------------------------------------------------------------------
    @property
    def value_range(self) -> tuple[float, float]:
        """Minimum and maximum voxel value."""
        return (float(self.voxels.min()), float(self.voxels.max()))

    def default_window(self) -> WindowPreset:
        """The first window stored in the data, else one spanning the 1st..99th percentile."""
        if self.windows:
            return self.windows[0]
        from ownscan.core.render._pages import is_released, read_copy

        # every so many slices; a file-backed volume's read from its file (read_copy), not
        # through its mapping: ~15 MiB of a head MR's pages stayed resident after the upload.
        # The stacked copy is this function's own: the percentiles may sort it in place.
        vox, step = self.voxels, max(1, self.shape[0] // 32)
        if is_released(vox):
            sample = np.stack([read_copy(vox[k]) for k in range(0, self.shape[0], step)])
            lo, hi = (float(x) for x in np.percentile(sample, [1.0, 99.0], overwrite_input=True))
        else:
            lo, hi = (float(x) for x in np.percentile(vox[::step], [1.0, 99.0]))
        if hi <= lo:
            hi = lo + 1.0
        return WindowPreset("auto", hi - lo, (hi + lo) / 2.0)

    def describe(self) -> str:
        """One line for listings: size, spacing, modality."""
        z, y, x = self.shape
        sx, sy, sz = self.spacing
        kind = "image" if self.is_2d else "volume"
        frames = self.extra.get("kind") == "frames"  # without positions: not slices
        if frames:
            kind = "cine" if self.extra.get("cine") else "frames"
        n = int(self.extra.get("n_volumes") or 1)
        four = ""
        if n > 1:  # one volume of a 4D series: which, and what the 4th axis is
            dim = self.extra.get("dimension")
            what = f" {dim.name}" if isinstance(dim, Dimension) else ""
            four = f", volume {int(self.extra.get('volume') or 0) + 1} of {n}{what}"
        spacing = f"spacing {sx:.3g}x{sy:.3g}x{sz:.3g} mm"
        if not self.spacing_known:  # the stand-in 1 mm is no size
            spacing = "no pixel spacing"
        elif self.spacing_source == "detector":
            spacing += " at detector"
        values = values_phrase(self.modality, self.units)
        size = f"{x}x{y}x{z}"
        if kind == "cine":  # frames in time: no spacing between them
            size = f"{x}x{y}, {z} frames,"
            spacing = "no pixel spacing" if not self.spacing_known else f"{sx:.3g}x{sy:.3g} mm"
        return (
            f"{self.modality or '??'} {kind} {size} {spacing}, {self.voxels.dtype}"
            + (f" x{self.samples}" if self.samples > 1 else "")
            + (f", {values}" if values else "")
            + four
        )
