"""Series assembly: from DICOM files to series, and from a series to a :class:`Volume`.

About the method
----------------
:func:`assemble` reads only headers. Each image frame (a single-frame file, or one frame of an
enhanced multi-frame file described by its per-frame functional groups) becomes one record.
Records are grouped by Series Instance UID, then split into *stacks* of frames that share an
orientation (ImageOrientationPatient within 1e-4), an image size and an echo. Each stack is
sorted along its slice normal ``n = row x column`` by the distance ``ImagePositionPatient . n``
(never by Instance Number or file name), and the distances are checked:

* duplicate positions (two frames less than 0.01 mm apart): the first is kept, said in a warning;
* irregular spacing (steps differing from the median by more than 1 % + 0.01 mm), and missing
  slices (steps that are a multiple of the median): warned; the median step is used;
* gantry tilt (slice positions drifting within the image plane, so the stack is sheared):
  each slice is shifted back onto a regular orthogonal grid with linear interpolation, as
  dcm2niix does, and a warning says so;
* localizers (ImageType LOCALIZER) and images without position are kept out of 3D stacks and
  offered as their own 2D series; a series split into several stacks says so.

:meth:`Series.load` decodes the pixels (see ``_pixels``) into one preallocated array in the
most compact dtype the rescale allows and returns the :class:`Volume`.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from ownscan.core.dicom import Frame, NotDicom, ReadProblem, damaged, is_dataset, read_frames
from ownscan.core.dicom._frames import Source
from ownscan.core.errors import OwnscanError
from ownscan.core.files import walk_files
from ownscan.core.plugin_types import DICOM, SourceItem
from ownscan.core.volume import SeriesInfo, Volume, WindowPreset

if TYPE_CHECKING:  # pydicom is imported only for headers that need it
    from pydicom.dataset import Dataset

__all__ = ["Assembly", "Problem", "Series", "Source", "VoxelFile", "assemble", "load_volume"]

Item: TypeAlias = "SourceItem | Dataset | str | os.PathLike[str]"


@dataclass(frozen=True)
class VoxelFile:
    """Where :meth:`Series.load` should put the voxels: an open file, from byte ``offset``.

    The voxels are stored there in C order (slice, row, column), native byte order, in the
    dtype the load chooses; the file is resized to end with them and the bytes before
    ``offset`` are left alone (room for a header). ``fd`` must be open for reading and
    writing.
    """

    fd: int
    offset: int


_ORIENT_TOL = 1e-4  # direction cosines equal within this
_DUP_MM = 0.01  # positions closer than this along the normal are the same slice
_TILT_MM = 0.02  # in-plane drift of slice positions larger than this is a (gantry) tilt


@dataclass(frozen=True)
class Problem:
    """A file that was skipped or could not be used, and why (one line for the user)."""

    origin: str
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


@dataclass
class _Geometry:
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: npt.NDArray[np.float64]
    # per-slice in-plane offsets (du, dv) in mm to undo, when the stack is sheared (tilt),
    # and the resampled grid: its first pixel (i, j) relative to slice 0's, and (rows, cols)
    shear: npt.NDArray[np.float64] | None = None
    grid_lo: tuple[int, int] = (0, 0)
    grid_size: tuple[int, int] | None = None


class Series:
    """One stack of images ready to load: a 3D volume, or a single 2D image.

    Attributes
    ----------
    info
        Patient, study and series description.
    warnings
        What the user must be told (irregular spacing, tilt, duplicates, split series...).
    kind
        ``"volume"`` (a 3D stack), ``"image"`` (one 2D image), ``"localizer"`` (a scout image
        kept out of the volume) or ``"frames"`` (a multi-frame image without slice geometry).
    """

    def __init__(
        self,
        frames: list[Frame],
        geometry: _Geometry,
        *,
        kind: str,
        warnings: list[str],
        part: int = 0,
        parts: int = 1,
    ) -> None:
        self._frames = frames
        self._geometry = geometry
        self.kind = kind
        self.warnings = warnings
        self.part = part
        self.parts = parts
        first = frames[0]
        self.info = SeriesInfo(**first.info)
        self.load_errors: list[Problem] = []

    # -- what the headers say ------------------------------------------------------------------
    @property
    def n_images(self) -> int:
        """Frames in this stack (slices of the volume)."""
        return len(self._frames)

    @property
    def uid(self) -> str:
        return self.info.series_instance_uid

    @property
    def modality(self) -> str:
        return self.info.modality

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(z, y, x)`` of the volume :meth:`load` returns."""
        f = self._frames[0]
        if self._geometry.grid_size is not None:
            return (len(self._frames), *self._geometry.grid_size)
        return (len(self._frames), f.rows, f.columns)

    @property
    def samples(self) -> int:
        return 3 if self._frames[0].is_colour else 1

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self._geometry.spacing

    @property
    def origin(self) -> tuple[float, float, float]:
        return self._geometry.origin

    @property
    def direction(self) -> npt.NDArray[np.float64]:
        return self._geometry.direction.copy()

    @property
    def is_2d(self) -> bool:
        return len(self._frames) == 1

    @property
    def files(self) -> list[str]:
        """The files the stack is made of, in slice order (each once)."""
        return list(dict.fromkeys(fr.source.origin for fr in self._frames))

    @property
    def sources(self) -> list[Source]:
        """Where the files of :attr:`files` are (path, bytes or dataset), in the same order:
        what exporters that rewrite the original DICOM (de-identified copies) read."""
        return list({fr.source.origin: fr.source for fr in self._frames}.values())

    @property
    def transfer_syntaxes(self) -> list[str]:
        return sorted({fr.transfer_syntax.name for fr in self._frames})

    @property
    def label(self) -> str:
        """A short name for file names and listings: series number, description, part."""
        num = self.info.series_number
        desc = self.info.series_description
        base = f"{num}" if num is not None else "series"
        if desc:
            base += f" {desc}"
        if self.kind == "localizer":
            base += " localizer"
        if self.parts > 1:
            base += f" part {self.part + 1}"
        return base

    def describe(self) -> str:
        """One line: modality, kind, size, spacing."""
        z, y, x = self.shape
        sx, sy, sz = self.spacing
        if self._frames[0].pixel_spacing is None:
            spacing = "no pixel spacing (sizes unknown)"
        else:
            spacing = f"spacing {sx:.4g}x{sy:.4g}x{sz:.4g} mm"
        return f"{self.modality or '??'} {self.kind} {x}x{y}x{z} {spacing}" + (
            " RGB" if self.samples == 3 else ""
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no pixels)."""
        return {
            "label": self.label,
            "kind": self.kind,
            "modality": self.modality,
            "n_images": self.n_images,
            "shape_zyx": list(self.shape),
            "samples": self.samples,
            "spacing_mm": list(self.spacing),
            "origin_lps": list(self.origin),
            "direction": self._geometry.direction.tolist(),
            "transfer_syntaxes": self.transfer_syntaxes,
            "warnings": list(self.warnings),
            "info": self.info.to_dict(),
        }

    def __repr__(self) -> str:
        return f"<Series {self.label!r}: {self.describe()}>"

    # -- pixels --------------------------------------------------------------------------------
    def load(self, *, workers: int | None = None, out: VoxelFile | None = None) -> Volume:
        """Decode the pixels into a :class:`Volume`.

        Parameters
        ----------
        workers
            Processes/threads used for decoding; default: the CPU cores available.
        out
            Decode straight into this file (e.g. an exporter's output file after room for its
            header): the returned volume's ``voxels`` are then a shared mapping of the file's
            bytes ``out.offset..``, and its end is the voxels' end. Native frames are read,
            rescaled and written with ``pwrite`` a few frames at a time through a buffer, so
            the volume never passes through anonymous memory. Default: an array in memory.

        Frames that cannot be decoded are filled with the padding value (-1024 HU for CT, else
        0) and reported in the returned volume's ``warnings`` (and in :attr:`load_errors`); the
        rest still loads.

        Raises
        ------
        UnsupportedTransferSyntax
            No installed decoder handles the files' transfer syntax.
        OSError
            ``out`` cannot be resized, reserved (a full disk) or written.
        """
        from ownscan.core import _pixels

        frames = self._frames
        plan = _pixels.plan_for(frames, self.modality)
        errors: dict[int, str] = {}
        geo = self._geometry
        sheared = geo.shear is not None and geo.grid_size is not None and not plan.colour
        # a sheared stack is decoded in memory, then resampled into the file
        direct = out if out is not None and not sheared else None
        while True:
            if direct is not None:
                vox = _pixels.map_file(direct.fd, direct.offset, plan)
            else:
                vox = _pixels.allocate(frames, plan, workers=workers)
            errors.clear()
            try:
                _pixels.decode_into(
                    vox,
                    frames,
                    plan,
                    workers=workers,
                    on_error=lambda k, why: errors.__setitem__(k, why),
                    file=None if direct is None else (direct.fd, direct.offset),
                )
                break
            except _pixels._Overflow:
                del vox
                plan = _pixels.plan_for(frames, self.modality, force_int32=True)
        warnings = list(self.warnings)
        self.load_errors = [Problem(frames[k].where, why) for k, why in sorted(errors.items())]
        for p in self.load_errors:
            warnings.append(f"could not decode {p}; that slice is blank")
        if sheared:
            assert geo.shear is not None and geo.grid_size is not None
            vox = _unshear(vox, geo.shear, geo.spacing, geo.grid_lo, geo.grid_size, plan.fill)
        if out is not None and direct is None:
            in_file = _pixels.map_file(
                out.fd, out.offset, _pixels.DecodePlan(vox.dtype, vox.shape, False, False, 0)
            )
            in_file[...] = vox
            vox = in_file
        first = frames[0]
        windows = []
        seen = set()
        for name, width, level in first.windows:
            if (width, level) in seen:
                continue
            seen.add((width, level))
            windows.append(WindowPreset(name, width, level))
        units = "HU" if self.modality == "CT" else ""
        if not units and first.rescale_type and first.rescale_type.upper() not in ("US", ""):
            units = first.rescale_type
        return Volume(
            voxels=vox,
            spacing=geo.spacing,
            origin=geo.origin,
            direction=geo.direction,
            modality=self.modality,
            units=units,
            windows=tuple(windows),
            info=self.info,
            warnings=warnings,
            invert=first.photometric == "MONOCHROME1",
            extra={
                "files": self.files,
                "kind": self.kind,
                "label": self.label,
                "transfer_syntaxes": self.transfer_syntaxes,
            },
        )


def _unshear(
    vox: np.ndarray,
    shear: npt.NDArray[np.float64],
    spacing: tuple[float, float, float],
    lo: tuple[int, int],
    size: tuple[int, int],
    fill: float,
) -> np.ndarray:
    """Resample a sheared stack onto the regular grid.

    Slice ``k`` of ``vox`` lies ``shear[k] = (du, dv)`` mm off the line through slice 0 along
    the normal. The output grid keeps slice 0's pixel lattice, starts ``lo = (i_lo, j_lo)``
    pixels from it and has ``size = (rows, cols)``, enough to hold every slice (as dcm2niix
    does); output pixel ``(i, j)`` of slice ``k`` takes the stored slice at
    ``(i + i_lo - du/sx, j + j_lo - dv/sy)``, linearly interpolated, ``fill`` outside.
    """
    sx, sy, _ = spacing
    rows, cols = size
    out = np.empty((vox.shape[0], rows, cols), dtype=vox.dtype)
    for k in range(vox.shape[0]):
        du, dv = shear[k]
        sl = vox[k].astype(np.float32)
        sl = _resample_axis(sl, lo[0] - du / sx, cols, axis=1, fill=fill)
        sl = _resample_axis(sl, lo[1] - dv / sy, rows, axis=0, fill=fill)
        if np.issubdtype(vox.dtype, np.integer):
            info = np.iinfo(vox.dtype)
            np.clip(np.rint(sl), info.min, info.max, out=sl)
        out[k] = sl
    return out


def _resample_axis(a: np.ndarray, start: float, n: int, axis: int, fill: float) -> np.ndarray:
    """``out[j] = a[start + j]`` for ``j < n`` along ``axis``: linear, ``fill`` outside."""
    m = a.shape[axis]
    pos = start + np.arange(n, dtype=np.float64)
    j0 = np.floor(pos + 1e-6).astype(np.int64)
    f = np.clip(pos - j0, 0.0, 1.0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = n
    ok0 = ((j0 >= 0) & (j0 < m)).reshape(shape)
    ok1 = ((j0 + 1 >= 0) & (j0 + 1 < m)).reshape(shape)
    a0 = np.take(a, np.clip(j0, 0, m - 1), axis=axis)
    a1 = np.take(a, np.clip(j0 + 1, 0, m - 1), axis=axis)
    fr = f.reshape(shape)
    exact = (fr == 0) & ok0  # on a sample: no right-hand neighbour needed
    out = np.where(ok0, a0, np.float32(fill)) * (1 - fr) + np.where(ok1, a1, np.float32(fill)) * fr
    out = np.where(exact, a0, out)
    out = np.where(ok0 | ok1, out, np.float32(fill))
    return out.astype(np.float32)


@dataclass
class Assembly:
    """What :func:`assemble` found.

    Attributes
    ----------
    series
        The series (stacks) found, sorted by patient, study date, series number.
    skipped
        Items that are not DICOM images (other files, DICOMDIR, reports), with why.
    errors
        DICOM files that could not be used (damaged, truncated, inconsistent), with why.
    """

    series: list[Series] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def volumes(self) -> list[Series]:
        """The 3D series (not 2D images or localizers)."""
        return [s for s in self.series if s.kind == "volume"]


def _unit(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(a))
    return a / n if n > 0 else a


def _orientation_key(iop: tuple[float, ...]) -> tuple[int, ...]:
    return tuple(round(x / _ORIENT_TOL / 10) for x in iop)


def _single_geometry(fr: Frame) -> _Geometry:
    """Geometry of one image: from its header where present, else unit spacing at 0."""
    ps = fr.pixel_spacing or (1.0, 1.0)
    thick = fr.spacing_between_slices or fr.slice_thickness or 1.0
    if thick <= 0:
        thick = 1.0
    if fr.iop is not None and fr.ipp is not None:
        row, col = _unit(fr.iop[:3]), _unit(fr.iop[3:])
        n = _unit(np.cross(row, col))
        direction = np.stack([row, col, n], axis=1)
        origin = fr.ipp
    else:
        direction = np.eye(3)
        origin = (0.0, 0.0, 0.0)
    return _Geometry((ps[1], ps[0], float(abs(thick))), tuple(origin), direction)  # type: ignore[arg-type]


def _median(values: npt.NDArray[np.float64]) -> float:
    """``float(np.median(values))`` for a non-empty 1D array, without the import of
    :mod:`numpy.ma` that ``np.median`` does on first use (8 ms of every ``ownscan`` start)."""
    s = np.sort(values)
    n = len(s)
    if np.isnan(s[-1]):
        return math.nan
    if n % 2:
        return float(s[n // 2])
    return float((s[n // 2 - 1] + s[n // 2]) / 2)


def _stack_geometry(frames: list[Frame], warnings: list[str]) -> tuple[list[Frame], _Geometry]:
    """Sort a stack along its normal, drop duplicates, check spacing, detect tilt."""
    first = frames[0]
    assert first.iop is not None
    row, col = _unit(first.iop[:3]), _unit(first.iop[3:])
    if abs(float(row @ col)) > 1e-3:
        warnings.append(
            f"row and column directions are not perpendicular (cos={row @ col:.4f}); "
            "geometry may be wrong"
        )
    normal = _unit(np.cross(row, col))
    pos = np.array([fr.ipp for fr in frames], dtype=np.float64)
    dist = pos @ normal
    inst = [fr.instance_number if fr.instance_number is not None else 0 for fr in frames]
    order = sorted(range(len(frames)), key=lambda k: (round(float(dist[k]) / _DUP_MM), inst[k], k))
    frames = [frames[k] for k in order]
    pos, dist = pos[order], dist[order]

    # duplicates
    keep = [0]
    dups: list[str] = []
    same_sop = 0
    for k in range(1, len(frames)):
        if abs(dist[k] - dist[keep[-1]]) < _DUP_MM:
            a, b = frames[keep[-1]], frames[k]
            if a.sop_instance_uid == b.sop_instance_uid and a.frame == b.frame:
                same_sop += 1
            else:
                dups.append(b.where)
            continue
        keep.append(k)
    if dups:
        warnings.append(
            f"duplicate positions: {len(dups)} image(s) lie where another already is "
            f"(e.g. {dups[0]}); kept the first at each position (repeated acquisitions or "
            "time points are not merged)"
        )
    frames = [frames[k] for k in keep]
    pos, dist = pos[keep], dist[keep]

    ps = first.pixel_spacing
    if ps is None:
        warnings.append("no PixelSpacing: assuming 1 mm pixels, distances are not reliable")
        ps = (1.0, 1.0)
    if len(frames) == 1:
        geo = _single_geometry(frames[0])
        return frames, geo

    steps = np.diff(dist)
    dz = _median(steps)
    tol = 0.01 * dz + 0.01
    bad = np.abs(steps - dz) > tol
    if bad.any():
        ratios = steps[bad] / dz
        missing = [
            (int(i), r)
            for i, r in zip(np.nonzero(bad)[0], ratios, strict=True)
            if r > 1.5 and abs(r - round(r)) < 0.1
        ]
        if missing and len(missing) == int(bad.sum()):
            n_miss = sum(round(r) - 1 for _, r in missing)
            i0 = missing[0][0]
            warnings.append(
                f"missing slices: about {n_miss} slice(s) absent (first gap of "
                f"{steps[i0]:.3g} mm after {frames[i0].where}); the volume uses the "
                f"regular spacing {dz:.4g} mm, so distances across the gap are wrong"
            )
        else:
            warnings.append(
                f"irregular slice spacing: steps from {steps.min():.4g} to {steps.max():.4g} mm "
                f"(median {dz:.4g} mm is used; distances along the slices are approximate)"
            )

    # Tilt: in-plane drift of the slice positions (a sheared stack).
    rel = pos - pos[0]
    inplane = rel - np.outer(dist - dist[0], normal)
    du, dv = inplane @ row, inplane @ col
    shear = None
    drift = float(np.max(np.hypot(du, dv)))
    if drift > _TILT_MM:
        angle = math.degrees(math.atan2(drift, float(dist[-1] - dist[0])))
        shear = np.stack([du, dv], axis=1)
        what = "gantry tilt" if first.gantry_tilt or abs(du).max() < 0.01 * drift + 1e-6 else "tilt"
        warnings.append(
            f"{what} of {angle:.2f} degrees: slices were resampled onto a regular grid "
            "perpendicular to the image plane (linear interpolation), as dcm2niix does"
        )
    direction = np.stack([row, col, normal], axis=1)
    origin = pos[0]
    grid_lo, grid_size = (0, 0), None
    if shear is not None:
        # grid on slice 0's pixel lattice, grown to hold every shifted slice (as dcm2niix)
        sx, sy = ps[1], ps[0]
        i_lo = math.floor(min(0.0, float(du.min())) / sx + 1e-6)
        i_hi = math.ceil(max(0.0, float(du.max())) / sx - 1e-6) + first.columns - 1
        j_lo = math.floor(min(0.0, float(dv.min())) / sy + 1e-6)
        j_hi = math.ceil(max(0.0, float(dv.max())) / sy - 1e-6) + first.rows - 1
        grid_lo, grid_size = (i_lo, j_lo), (j_hi - j_lo + 1, i_hi - i_lo + 1)
        origin = pos[0] + i_lo * sx * row + j_lo * sy * col
    geo = _Geometry(
        (ps[1], ps[0], abs(dz)),
        (float(origin[0]), float(origin[1]), float(origin[2])),
        direction,
        shear,
        grid_lo,
        grid_size,
    )
    return frames, geo


def _item_origin(item: Item, n: int) -> str:
    if isinstance(item, SourceItem):
        return item.origin
    if is_dataset(item):
        return str(getattr(item, "filename", "") or f"<dataset {n + 1}>")
    return str(item)


def _expand(items: Item | Iterable[Item]) -> Iterable[Item]:
    if isinstance(items, str | os.PathLike) and Path(items).is_dir():
        return walk_files(Path(items))
    if isinstance(items, str | os.PathLike | SourceItem):
        return [items]
    if is_dataset(items):
        return [items]
    return cast("Iterable[Item]", items)


_Read = tuple[str, Any]  # ("frames", list[Frame]) | ("skipped" | "error", Problem)


def _read_one(item: Item, n: int, info_cache: dict[tuple[Any, ...], dict[str, Any]]) -> _Read:
    if isinstance(item, SourceItem) and item.problem is None and item.media_type != DICOM:
        return ("skipped", Problem(item.origin, f"not DICOM ({item.media_type})"))
    try:
        return ("frames", read_frames(item, n, info_cache))  # type: ignore[arg-type]
    except NotDicom as exc:
        return ("skipped", Problem(_item_origin(item, n), str(exc)))
    except ReadProblem as exc:
        return ("error", Problem(_item_origin(item, n), str(exc)))
    except OSError as exc:
        return ("error", Problem(_item_origin(item, n), f"cannot read: {exc.strerror or exc}"))
    except damaged() as exc:  # a header pydicom chokes on: one line, never a traceback
        why = f"unreadable header ({type(exc).__name__}: {exc})".splitlines()[0][:300]
        return ("error", Problem(_item_origin(item, n), why))


def assemble(items: Item | Iterable[Item], *, workers: int | None = None) -> Assembly:
    """Group DICOM items into series and stacks, reading headers only.

    Parameters
    ----------
    items
        :class:`SourceItem` s (what importers yield), paths to files, pydicom datasets, a folder
        (read recursively), or an iterable mixing these.
    workers
        Accepted for symmetry with :meth:`Series.load`. Headers are read in this process:
        a process pool was measured slower on 384 files (pickling the frame records back
        costs more than parsing them, about 0.6 ms per file).

    Returns
    -------
    Assembly
        The series found, the items skipped (not DICOM images) and the files in error, each
        with the reason.
    """
    result = Assembly()
    frames: list[Frame] = []
    seen: set[tuple[str, int]] = set()
    del workers  # see the docstring
    cache: dict[tuple[Any, ...], dict[str, Any]] = {}
    for n, item in enumerate(_expand(items)):
        kind, got = _read_one(item, n, cache)
        if kind == "skipped":
            result.skipped.append(got)
            continue
        if kind == "error":
            result.errors.append(got)
            continue
        for fr in got:
            key = (fr.sop_instance_uid, fr.frame)
            if fr.sop_instance_uid and key in seen:
                if fr.frame == 0:
                    result.skipped.append(
                        Problem(fr.source.origin, "the same instance was already read (a copy)")
                    )
                continue
            seen.add(key)
            frames.append(fr)

    by_series: dict[str, list[Frame]] = defaultdict(list)
    for fr in frames:
        by_series[fr.series_uid or f"(no series uid) {fr.source.origin}"].append(fr)
    for series_frames in by_series.values():
        result.series.extend(_split_series(series_frames))

    def sort_key(s: Series) -> tuple:
        i = s.info
        return (
            i.patient_id,
            i.study_date,
            i.study_instance_uid,
            i.series_number if i.series_number is not None else 1 << 30,
            i.series_instance_uid,
            s.kind == "localizer",
            s.part,
        )

    result.series.sort(key=sort_key)
    return result


def _split_series(frames: list[Frame]) -> list[Series]:
    """One Series Instance UID -> its stacks (volumes, images, localizers)."""
    stacks: dict[tuple, list[Frame]] = defaultdict(list)
    singles: list[tuple[str, list[Frame]]] = []
    per_file: dict[int, list[Frame]] = defaultdict(list)
    for fr in frames:
        if fr.ipp is None or fr.iop is None:
            per_file[id(fr.source)].append(fr)
            continue
        kind = "localizer" if fr.is_localizer else "volume"
        key = (kind, _orientation_key(fr.iop), fr.rows, fr.columns, fr.is_colour, fr.echo_number)
        stacks[key].append(fr)
    for group in per_file.values():
        singles.append(("frames" if len(group) > 1 else "image", group))

    out: list[Series] = []
    volume_keys = [k for k in stacks if k[0] == "volume"]
    sizes = {(k[2], k[3]) for k in volume_keys}
    orients = {k[1] for k in volume_keys}
    echoes = {k[5] for k in volume_keys}
    for key, group in stacks.items():
        warnings: list[str] = []
        group, geo = _stack_geometry(group, warnings)
        kind = key[0]
        if kind == "volume":
            if len(volume_keys) > 1:
                why = []
                if len(sizes) > 1:
                    why.append(
                        "mixed image sizes " + ", ".join(f"{c}x{r}" for r, c in sorted(sizes))
                    )
                if len(orients) > 1:
                    why.append(f"{len(orients)} orientations")
                if len(echoes) > 1:
                    why.append(f"{len(echoes)} echoes")
                warnings.append(
                    f"this series was split into {len(volume_keys)} stacks ({'; '.join(why)}); "
                    f"this one is {key[3]}x{key[2]}, {len(group)} image(s)"
                )
            if len(group) == 1:
                kind = "image"
        else:
            warnings.append("localizer (scout) image: kept out of the 3D volume")
        out.append(Series(group, geo, kind=kind, warnings=warnings))
    for kind, group in singles:
        warnings = []
        geo = _single_geometry(group[0])
        if kind == "frames":
            warnings.append(
                f"{len(group)} frames without slice positions: shown as a stack with "
                f"{geo.spacing[2]:.3g} mm between frames; 3D distances are not reliable"
            )
        out.append(Series(group, geo, kind=kind, warnings=warnings))
    # number the parts of a split series
    by_kind: dict[str, list[Series]] = defaultdict(list)
    for s in out:
        by_kind["volume" if s.kind == "image" else s.kind].append(s)
    for same in by_kind.values():
        if len(same) > 1:
            for k, s in enumerate(sorted(same, key=lambda s: -s.n_images)):
                s.part, s.parts = k, len(same)
    return out


def load_volume(source: Item | Iterable[Item], *, workers: int | None = None) -> Volume:
    """Load the one volume in ``source`` (a folder, files, datasets or source items).

    Raises
    ------
    OwnscanError
        ``source`` holds no image, or several 3D series (use :func:`assemble` and choose).
    """
    found = assemble(source)
    vols = found.volumes() or found.series
    if not vols:
        why = "; ".join(str(p) for p in (found.errors + found.skipped)[:3])
        raise OwnscanError(
            f"{_describe(source)}: no DICOM image found" + (f" ({why})" if why else "")
        )
    if len(vols) > 1:
        names = ", ".join(s.label for s in vols)
        raise OwnscanError(
            f"{_describe(source)}: {len(vols)} series found ({names}); use assemble() to choose"
        )
    return vols[0].load(workers=workers)


def _describe(source: object) -> str:
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, Sequence):
        return f"{len(source)} item(s)"
    return "source"
