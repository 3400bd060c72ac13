"""Series assembly: from DICOM files to series, and from a series to a :class:`Volume`.

About the method
----------------
:func:`assemble` reads only headers. Each image frame (a single-frame file, or one frame of an
enhanced multi-frame file described by its per-frame functional groups) becomes one record.
Records are grouped by Series Instance UID, then split into *stacks* of frames that share an
orientation (ImageOrientationPatient within 1e-4), an image size, a Series Number, an echo and
an image component (magnitude, phase, real, imaginary, a derived map: named ``ph``, ``e2``,
``ADC``... as dcm2niix names its files). Where positions repeat within a stack, what tells the
repeats apart (temporal position, trigger time, diffusion b-value and direction, acquisition
number, else the k-th acquisition at each position) makes them the volumes of a 4D series
(:attr:`Series.dimension`, :meth:`Series.load` ``volume=``). Each stack is sorted along its
slice normal ``n = row x column`` by the distance ``ImagePositionPatient . n`` (never by
Instance Number or file name), and the distances are checked:

* duplicate positions that nothing tells apart (two frames less than 0.01 mm apart): the first
  is kept, said in a warning;
* irregular spacing and missing slices: within 0.1 mm of a regular grid, that grid is used
  (warned); otherwise the slices are resampled onto a regular grid from the first to the last
  acquired slice (linear interpolation between the two acquired slices around each), as
  dcm2niix's equalized output, and a warning says so;
* gantry tilt (slice positions drifting within the image plane, so the stack is sheared):
  each slice is shifted back onto a regular orthogonal grid with linear interpolation, as
  dcm2niix does, and a warning says so;
* localizers (ImageType LOCALIZER) and images without position are kept out of 3D stacks and
  offered as their own 2D series; a series split into several stacks says so.

Siemens mosaics arrive here already cut into their slices (``dicom._frames``); a second
instance with an already-seen SOP Instance UID but other content is kept as a stack of its
own (:attr:`Assembly.conflicts`).

:meth:`Series.load` decodes the pixels (see ``_pixels``) into one preallocated array in the
most compact dtype the rescale allows and returns the :class:`Volume`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from ownscan.core._sign import judge_sign
from ownscan.core.dicom import Frame, NotDicom, ReadProblem, damaged, is_dataset, read_frames
from ownscan.core.dicom._frames import Source
from ownscan.core.errors import OwnscanError
from ownscan.core.files import walk_files
from ownscan.core.plugin_types import DICOM, SourceItem
from ownscan.core.volume import Dimension, SeriesInfo, Volume, WindowPreset, values_phrase

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
    # irregular spacing: for each slice of the regular grid, the acquired slices k0, k1 around
    # it and the weight of k1 (linear interpolation along the normal)
    zmap: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]] | None = None


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
    dimension
        For a 4D series (:attr:`n_volumes` > 1): what its volumes are (time points, cardiac
        phases, diffusion directions...), a :class:`~ownscan.core.volume.Dimension`; else None.
    tag
        What tells this stack from the others of its Series Instance UID, as dcm2niix names
        its files (``"e2"``, ``"ph"``, ``"e1_ADC"``), or ``""``; part of :attr:`label`.
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
        volumes: list[list[Frame]] | None = None,
        dimension: Dimension | None = None,
        tag: str = "",
    ) -> None:
        # volumes: every volume's frames in slice order (the first is ``frames``)
        self._volumes = volumes if volumes is not None else [frames]
        self._frames = self._volumes[0]
        self.dimension = dimension
        self.tag = tag  # what tells this stack from its siblings, as dcm2niix names it: e2, ph
        self._force_int32 = False
        self._plans: dict[bool, Any] = {}  # the decode plan of all volumes, by force_int32
        self._syntaxes: list[str] | None = None
        self._by_tag = False  # its siblings are told apart by their tags, not part numbers
        self._geometry = geometry
        self.kind = kind
        self.warnings = warnings
        self.part = part
        self.parts = parts
        first = frames[0]
        self.info = SeriesInfo(**first.info)
        self.load_errors: list[Problem] = []
        # what the last load found beyond :attr:`warnings` (a sign the header got wrong):
        # commands that hand the series on (export) print these beside :attr:`warnings`
        self.load_warnings: list[str] = []

    # -- what the headers say ------------------------------------------------------------------
    @property
    def n_images(self) -> int:
        """Frames in this stack (slices times volumes)."""
        return sum(len(v) for v in self._volumes)

    @property
    def slice_timing(self) -> tuple[float, ...] | None:
        """When each slice was acquired within its volume, in seconds, in slice order (what
        dcm2niix writes as SliceTiming), else None: from a Siemens mosaic's CSA header, or,
        for Siemens and UIH MR, from the slices' AcquisitionTime (see
        :func:`_slice_times_from_acquisition`)."""
        if self._geometry.zmap is not None:
            return None
        times = [fr.slice_time for fr in self._frames]
        if all(t is not None for t in times):
            return tuple(round(t / 1000.0, 6) for t in times if t is not None)
        return _slice_times_from_acquisition(self._frames, self.info.manufacturer, self.modality)

    def acquisition(self, volume: int = 0) -> dict[str, Any]:
        """What the frame records of ``volume`` say about the acquisition, under the names and
        in the units of dcm2niix's BIDS sidecar: EchoTime, RepetitionTime (s), EchoNumber (of
        a stack that is one of several echoes), SliceTiming, and Philips' scale factors
        (``PhilipsRescaleSlope``, ``PhilipsRescaleIntercept``, ``PhilipsScaleSlope``). The
        rest of the sidecar comes from the header of the volume's first image
        (``ownscan.core.dicom.acquisition_fields``)."""
        first = self._volumes[volume][0]
        out: dict[str, Any] = {}
        # seconds to 9 significant digits (the noise of the division gone), not 6 decimal
        # places: a TR of 7.56930017 ms became 0.007569 s (dcm2niix: 0.0075693)
        if first.echo_time is not None:
            out["EchoTime"] = float(f"{first.echo_time / 1000.0:.9g}")
        if first.repetition_time is not None:
            out["RepetitionTime"] = float(f"{first.repetition_time / 1000.0:.9g}")
        echo = self.tag.split("_")[0]
        if echo[:1] == "e" and echo[1:].isdigit():  # one of several echoes (even the first)
            out["EchoNumber"] = int(echo[1:])  # its rank, as the tag (enhanced: no number)
        timing = self.slice_timing
        if timing is not None:
            out["SliceTiming"] = list(timing)
        if first.philips_scale is not None:
            out["PhilipsRescaleSlope"] = first.slope
            out["PhilipsRescaleIntercept"] = first.intercept
            out["PhilipsScaleSlope"] = first.philips_scale[0]
        return out

    @property
    def n_volumes(self) -> int:
        """Volumes along the 4th dimension (1 for a plain 3D series)."""
        return len(self._volumes)

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
        geo = self._geometry
        n = len(self._frames) if geo.zmap is None else len(geo.zmap[0])
        if geo.grid_size is not None:
            return (n, *geo.grid_size)
        return (n, f.rows, f.columns)

    @property
    def samples(self) -> int:
        return 3 if self._frames[0].is_colour else 1

    @property
    def cine(self) -> tuple[float, str] | None:
        """A cine (multi-frame image without positions, its frames in time: ultrasound,
        angiography, fluoroscopy): ``(frames per second, attribute)``; else None. Its frames
        are the Volume's ``z`` in time order, never slices: no 3D, no spacing between them."""
        return _cine_of(self._frames) if self.kind == "frames" else None

    @property
    def frame_times(self) -> tuple[float, ...] | None:
        """A cine's frame times in seconds from its first frame (Frame Time, Frame Time
        Vector), else None."""
        if self.cine is None:
            return None
        times = [fr.cine_time for fr in self._frames]
        return None if None in times else tuple(t for t in times if t is not None)

    @property
    def units(self) -> str:
        """The units of the values :meth:`load` gives (:attr:`Volume.units`): ``"HU"`` for
        CT, ``"Gy"`` or ``"relative"`` for an RT Dose grid, a mapping's units, or ``""``."""
        return _units_of(self._frames[0], self.modality)

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
        """The files the stack is made of, in slice order, volume after volume (each once)."""
        return list(dict.fromkeys(fr.source.origin for v in self._volumes for fr in v))

    @property
    def sources(self) -> list[Source]:
        """Where the files of :attr:`files` are (path, bytes or dataset), in the same order:
        what exporters that rewrite the original DICOM (de-identified copies) read."""
        return list({id(fr.source): fr.source for fr in self._frames}.values())

    @property
    def transfer_syntaxes(self) -> list[str]:
        if self._syntaxes is None:
            self._syntaxes = sorted({fr.transfer_syntax.name for v in self._volumes for fr in v})
        return list(self._syntaxes)

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
        if self.tag:
            base += f" {self.tag}"
        elif self.parts > 1 and not self._by_tag:
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
        four = f" x {self.dimension.describe()}," if self.dimension is not None else ""
        values = values_phrase(self.modality, self.units)
        cine = self.cine
        if cine is not None:  # frames in time: no third size, no spacing between them
            if self._frames[0].pixel_spacing is not None:
                spacing = f"pixel spacing {sx:.4g}x{sy:.4g} mm"
            return (
                f"{self.modality or '??'} cine {x}x{y}, {z} frames at {cine[0]:g} frames/s "
                f"({_RATE_NAMES.get(cine[1], cine[1])}), {spacing}"
                + (" RGB" if self.samples == 3 else "")
                + (f", {values}" if values else "")
            )
        return (
            f"{self.modality or '??'} {self.kind} {x}x{y}x{z}{four} {spacing}"
            + (" RGB" if self.samples == 3 else "")
            + (f", {values}" if values else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no pixels)."""
        return {
            "label": self.label,
            "kind": self.kind,
            "modality": self.modality,
            "n_images": self.n_images,
            "n_volumes": self.n_volumes,
            "dimension": None if self.dimension is None else self.dimension.to_dict(),
            "slice_timing_s": None if self.slice_timing is None else list(self.slice_timing),
            "shape_zyx": list(self.shape),
            "samples": self.samples,
            "units": self.units,
            # a cine (frames in time, not slices): its rate and, where the file gives them,
            # its frame times; None for everything else
            "cine": None
            if self.cine is None
            else {
                "frames": len(self._frames),
                "fps": self.cine[0],
                "rate_from": self.cine[1],
                "frame_times_s": None if self.frame_times is None else list(self.frame_times),
            },
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
    def load(
        self, *, workers: int | None = None, out: VoxelFile | None = None, volume: int = 0
    ) -> Volume:
        """Decode the pixels of one volume into a :class:`Volume`.

        Parameters
        ----------
        volume
            Which volume of a 4D series (0 .. :attr:`n_volumes` - 1; see :attr:`dimension`).
            Every volume of a series gets the same dtype (chosen from all their headers).
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
        ReadProblem
            Not one frame of the volume could be decoded (there is no picture to show).
            :meth:`load_volumes` raises it only when no volume of the series decodes.
        OSError
            ``out`` cannot be resized, reserved (a full disk) or written.
        """
        return self._load(workers, out, volume, whole=True)

    def _load(
        self, workers: int | None, out: VoxelFile | None, volume: int, *, whole: bool
    ) -> Volume:
        """:meth:`load`; ``whole`` False: a volume none of whose frames decodes is padding
        with warnings (one volume among others, :meth:`load_volumes` judges the series)."""
        from ownscan.core import _pixels
        from ownscan.core.errors import UsageError

        if not 0 <= volume < self.n_volumes:
            raise UsageError(f"volume {volume}: {self.label} has volume(s) 0..{self.n_volumes - 1}")
        frames = self._volumes[volume]

        geo = self._geometry
        sheared = geo.shear is not None and geo.grid_size is not None and self.samples == 1
        # a sheared or irregular stack is decoded in memory, then resampled into the file
        direct = out if out is not None and not sheared and geo.zmap is None else None
        vox, errors, plan = self._decode(frames, direct, workers, whole)
        warnings = list(self.warnings)
        vox, lying = judge_sign(vox, frames, self.modality)
        self.load_warnings = [lying] if lying else []
        if lying:
            warnings.append(lying)
        self.load_errors = [Problem(frames[k].where, why) for k, why in sorted(errors.items())]
        for p in self.load_errors:
            warnings.append(f"could not decode {p}; that slice is blank")
        if sheared:
            assert geo.shear is not None and geo.grid_size is not None
            vox = _unshear(vox, geo.shear, geo.spacing, geo.grid_lo, geo.grid_size, plan.fill)
        if geo.zmap is not None:
            vox = _resample_slices(vox, geo.zmap)
        if out is not None and direct is None:
            in_file = _pixels.map_file(
                out.fd, out.offset, _pixels.DecodePlan(vox.dtype, vox.shape, False, False, 0)
            )
            in_file[...] = vox
            vox = in_file
        return self._volume_of(vox, volume, warnings)

    def _decode(
        self, frames: list[Frame], direct: VoxelFile | None, workers: int | None, whole: bool
    ) -> tuple[np.ndarray, dict[int, str], Any]:
        """Decode ``frames`` (into ``direct``'s file, else memory): the voxels, the frames
        that failed (index -> why) and the plan. A checked int16 plan that overflows makes
        this series int32 from then on (every volume of it) and decodes again. ``whole``:
        none of ``frames`` decoding is a ReadProblem."""
        from ownscan.core import _pixels

        plan = self._plan(len(frames), self._force_int32)
        errors: dict[int, str] = {}
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
                if whole:
                    self._refuse_nothing(frames, errors)
                return vox, errors, plan
            except _pixels._Overflow:
                del vox
                self._force_int32 = True
                plan = self._plan(len(frames), True)

    def _refuse_nothing(self, frames: Sequence[Frame], errors: dict[int, str]) -> None:
        """Raise when not one of ``frames`` decoded: a volume of padding would be a picture
        of nothing, shown, rendered or exported as if it were the scan."""
        if frames and len(errors) == len(frames):
            k, why = min(errors.items())
            raise ReadProblem(
                f"{frames[k].where}: no image of {self.label} could be decoded "
                f"({len(frames)} of {len(frames)} failed; the first: {why})"
            )

    def _plan(self, n_slices: int, force: bool) -> Any:
        """The decode plan for ``n_slices`` frames: one dtype for every volume, made from the
        headers of all of them (once)."""
        from ownscan.core import _pixels

        if self.n_volumes == 1:
            return _pixels.plan_for(self._frames, self.modality, force_int32=force)
        cached = self._plans.get(force)
        if cached is None:
            every = [fr for v in self._volumes for fr in v]
            cached = self._plans[force] = _pixels.plan_for(every, self.modality, force_int32=force)
        return dataclasses.replace(cached, shape=(n_slices, *cached.shape[1:]))

    def load_volumes(
        self, *, workers: int | None = None, out: VoxelFile | None = None
    ) -> list[Volume]:
        """Every volume of the series, in order (one for a 3D series), all in one dtype.

        With ``out``, the volumes go into the file one after the other from ``out.offset``
        (a 4D NIfTI's layout) and are shared mappings of it; a stack that needs no resampling
        is then decoded in one pass over all its frames, instead of one per volume.
        :attr:`load_errors` lists the frames of every volume that failed.
        """

        geo = self._geometry
        one_pass = out is not None and geo.shear is None and geo.zmap is None and self.samples == 1
        if not one_pass:
            while True:
                vols, errs, offset = [], [], None if out is None else out.offset
                said: list[str] = []
                for k in range(self.n_volumes):
                    where = None if offset is None else VoxelFile(out.fd, offset)  # type: ignore[union-attr]
                    vols.append(self._load(workers, where, k, whole=False))
                    errs += self.load_errors
                    said += [w for w in self.load_warnings if w not in said]
                    offset = None if offset is None else offset + vols[-1].nbytes
                if len({v.voxels.dtype for v in vols}) == 1:
                    every = [fr for v in self._volumes for fr in v]
                    self._refuse_nothing(every, {k: p.reason for k, p in enumerate(errs)})
                    self.load_errors = errs
                    self.load_warnings = said
                    return vols
                # a later volume overflowed int16: every volume again, as int32
        assert out is not None
        every = [fr for v in self._volumes for fr in v]
        nz = len(self._frames)
        vox, errors, _ = self._decode(every, out, workers, True)
        vox, lying = judge_sign(vox, every, self.modality)
        self.load_warnings = [lying] if lying else []
        self.load_errors = [Problem(every[k].where, why) for k, why in sorted(errors.items())]
        vols = []
        for n in range(self.n_volumes):
            warnings = list(self.warnings) + ([lying] if lying else [])
            for k, why in sorted(errors.items()):
                if n * nz <= k < (n + 1) * nz:
                    warnings.append(
                        f"could not decode {every[k].where}: {why}; that slice is blank"
                    )
            vols.append(self._volume_of(vox[n * nz : (n + 1) * nz], n, warnings))
        return vols

    def _volume_of(self, vox: np.ndarray, volume: int, warnings: list[str]) -> Volume:
        """The Volume of decoded voxels ``vox`` of volume ``volume``."""
        frames = self._volumes[volume]
        geo = self._geometry
        first = frames[0]
        windows = []
        seen = set()
        for name, width, level in first.windows:
            if (width, level) in seen:
                continue
            seen.add((width, level))
            windows.append(WindowPreset(name, width, level))
        units = _units_of(first, self.modality)
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
            orientation_source=(
                "patient"
                if first.iop is not None and first.ipp is not None
                else "patient_orientation"
                if first.patient_orientation is not None
                else ""
            ),
            patient_orientation=first.patient_orientation,
            spacing_source=first.spacing_source if first.pixel_spacing is not None else "",
            voi_function=first.voi_function,
            presentation_shape=first.presentation_shape,
            modality_lut=first.modality_lut,
            voi_luts=first.voi_luts,
            extra={
                "files": list(dict.fromkeys(fr.source.origin for fr in frames)),
                "kind": self.kind,
                "label": self.label
                + (f" vol {volume + 1:04d}" if self.n_volumes > 1 and volume else ""),
                "transfer_syntaxes": self.transfer_syntaxes,
                "volume": volume,
                "n_volumes": self.n_volumes,
                "dimension": self.dimension,
                "repetition_time_ms": first.repetition_time,
                "philips_fp_scale": _philips_factors(frames, geo),
                "slice_timing_s": self.slice_timing,
                "frame_rate": first.frame_rate,  # a cine: (frames per second, attribute)
                # frames without positions that the file times: a cine, not slices
                "cine": self.cine is not None,
                "frame_times_s": self.frame_times,
                # the NIfTI sidecar: these, and the header of the volume's first image
                "acquisition": self.acquisition(volume),
                "header_source": first.source,
            },
        )


# dcm2niix takes slice times from AcquisitionTime only for these vendors (GE's are in a
# private protocol block, Philips' AcquisitionTime is the volume's, not the slice's)
_SLICE_TIME_VENDORS = ("SIEMENS", "UIH", "UNITED IMAGING")


def _units_of(first: Frame, modality: str) -> str:
    """The units of a stack's values: HU for CT, else what its first frame names (Rescale
    Type, a Real World Value Mapping's units, an RT Dose grid's Dose Units), else none."""
    if modality == "CT":
        return "HU"
    if first.rescale_type and first.rescale_type.upper() not in ("US", ""):
        return first.rescale_type
    return ""


def _slice_times_from_acquisition(
    frames: list[Frame], manufacturer: str, modality: str
) -> tuple[float, ...] | None:
    """SliceTiming (s, slice order) from the AcquisitionTime of the slices of one volume, as
    dcm2niix derives it for Siemens and UIH MR without a CSA slice-time list: each slice's
    time after the earliest. None when any is missing or when all are equal (a 3D or
    single-shot acquisition: nothing says when each slice was taken). Times spread over
    more than a repetition time are kept, as dcm2niix keeps them (several concatenations of
    a 2D acquisition take that long)."""
    maker = manufacturer.upper()
    if modality != "MR" or not any(v in maker for v in _SLICE_TIME_VENDORS):
        return None
    times = [fr.acquisition_time for fr in frames]
    if len(times) < 2 or any(t is None for t in times):
        return None
    t0 = min(t for t in times if t is not None)
    rel = [t - t0 for t in times if t is not None]
    if max(rel) <= 0:
        return None
    return tuple(round(t, 6) for t in rel)


def _philips_factors(frames: list[Frame], geo: _Geometry) -> tuple[float, ...] | None:
    """Per slice of the volume, the factor that turns its display values (DICOM rescale) into
    Philips' floating-point values, ``1 / (RescaleSlope * MR Scale Slope)``: dcm2niix's
    ``FP = (SV * RS + RI) / (RS * SS)``. None unless every frame carries Philips' scale (or
    when it varies between slices that were resampled)."""
    if not frames or any(fr.philips_scale is None for fr in frames):
        return None
    f = [1.0 / (fr.slope * fr.philips_scale[0]) for fr in frames if fr.philips_scale]
    if geo.zmap is not None:
        if len(set(f)) > 1:
            return None
        f = [f[0]] * len(geo.zmap[0])
    return tuple(f)


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
    conflicts
        Frames kept although an earlier file had the same SOP Instance UID, because their
        content differs (never silently dropped as copies).
    skipped
        Items that are not DICOM images (other files, DICOMDIR, reports), with why.
    errors
        DICOM files that could not be used (damaged, truncated, inconsistent), with why.
    """

    series: list[Series] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

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


_SPACING_NAMES = {
    "detector": "the detector (Imager Pixel Spacing)",
    "scanned": "the film scanner (Nominal Scanned Pixel Spacing)",
}


def _single_warnings(fr: Frame) -> list[str]:
    """What ``info`` must say about an image without a position: orientation and scale."""
    out = []
    if fr.patient_orientation is not None:
        out.append(
            "no position in the patient (Image Position/Orientation): orientation from "
            "Patient Orientation only, no 3D"
        )
    else:
        out.append("no position or orientation in the patient: shown as stored, without labels")
    if fr.pixel_spacing is None:
        out.append("no pixel spacing: sizes are in pixels only")
    elif fr.spacing_source == "detector":
        out.append("sizes measured at the detector (Imager Pixel Spacing), not in the patient")
    elif fr.spacing_source == "scanned":
        out.append("sizes from the film scanner (Nominal Scanned Pixel Spacing)")
    elif fr.spacing_source == "ultrasound":
        out.append("sizes from the ultrasound region's calibration")
    return out


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
    # (the header reader made row and column perpendicular, or set the frame apart: _frames)
    row, col = _unit(first.iop[:3]), _unit(first.iop[3:])
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
    elif first.spacing_source in ("detector", "scanned"):
        # a stack with a position but no Pixel Spacing: the sizes used are the detector's
        # (or the film scanner's), larger than the patient's by the magnification
        warnings.append(
            f"no PixelSpacing: sizes from {_SPACING_NAMES[first.spacing_source]}, "
            "not measured in the patient"
        )
    if len(frames) == 1:
        geo = _single_geometry(frames[0])
        return frames, geo

    steps = np.diff(dist)
    dz = _median(steps)
    tol = 0.01 * dz + 0.01
    bad = np.abs(steps - dz) > tol
    zmap = None
    if bad.any():
        ratios = steps[bad] / dz
        missing = [
            (int(i), r)
            for i, r in zip(np.nonzero(bad)[0], ratios, strict=True)
            if r > 1.5 and abs(r - round(r)) < 0.1
        ]
        # Within a tenth of a millimetre (and 5 % of a step) of a regular grid: rounding in
        # the headers, the grid is used as it is. Otherwise the slices are resampled.
        fit = np.arange(len(dist)) * ((dist[-1] - dist[0]) / (len(dist) - 1)) + dist[0]
        off = float(np.abs(dist - fit).max())
        if off <= min(0.1, 0.05 * dz) and not missing:
            warnings.append(
                f"irregular slice spacing: steps from {steps.min():.4g} to {steps.max():.4g} mm, "
                f"every slice within {off:.2g} mm of a regular grid (used)"
            )
        else:
            zmap, dz = _regular_grid(dist)
            n_out = len(zmap[0])
            if missing and len(missing) == int(bad.sum()):
                n_miss = sum(round(r) - 1 for _, r in missing)
                i0 = missing[0][0]
                what = (
                    f"missing slices: about {n_miss} slice(s) absent (first gap of "
                    f"{steps[i0]:.3g} mm after {frames[i0].where})"
                )
            else:
                what = (
                    f"irregular slice spacing: steps from {steps.min():.4g} to {steps.max():.4g} mm"
                )
            warnings.append(
                f"{what}; resampled onto a regular grid of {n_out} slices every {dz:.4g} mm "
                f"from the first to the last acquired slice (linear interpolation between "
                f"the two nearest acquired slices, up to {steps.max():.3g} mm apart), as "
                "dcm2niix's equalized (_Eq) output"
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
        zmap,
    )
    return frames, geo


def _regular_grid(
    dist: npt.NDArray[np.float64],
) -> tuple[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]], float]:
    """A regular grid from the first to the last of the sorted slice distances ``dist``, at
    about the smallest step, and for each of its slices the two acquired slices around it and
    the weight of the second: ``((k0, k1, w), step)``. The first and last slices are acquired
    ones; so is every slice whose position falls on one (within 0.01 mm), as in a series with
    missing slices."""
    steps = np.diff(dist)
    smallest = float(steps[steps > _DUP_MM].min())
    extent = float(dist[-1] - dist[0])
    n = max(1, round(extent / smallest))
    step = extent / n
    grid = dist[0] + step * np.arange(n + 1)
    k1 = np.clip(np.searchsorted(dist, grid - _DUP_MM, side="left"), 0, len(dist) - 1)
    k0 = np.clip(k1 - 1, 0, len(dist) - 1)
    gap = dist[k1] - dist[k0]
    w = np.where(gap > 0, (grid - dist[k0]) / np.where(gap > 0, gap, 1.0), 1.0)
    w = np.clip(w, 0.0, 1.0)
    w[np.abs(grid - dist[k1]) <= _DUP_MM] = 1.0  # on an acquired slice: that slice exactly
    return (k0.astype(np.intp), k1.astype(np.intp), w.astype(np.float32)), step


def _resample_slices(
    vox: np.ndarray,
    zmap: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]],
) -> np.ndarray:
    """The slices of ``vox`` on the regular grid ``zmap`` (see :func:`_regular_grid`): linear
    between two acquired slices, rounded back to an integer dtype."""
    k0, k1, w = zmap
    out = np.empty((len(k0), *vox.shape[1:]), dtype=vox.dtype)
    for n in range(len(k0)):
        if w[n] == 1.0:
            out[n] = vox[k1[n]]
            continue
        sl = vox[k0[n]].astype(np.float32) * (1 - w[n]) + vox[k1[n]].astype(np.float32) * w[n]
        if np.issubdtype(vox.dtype, np.integer):
            info = np.iinfo(vox.dtype)
            np.clip(np.rint(sl), info.min, info.max, out=sl)
        out[n] = sl
    return out


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
    seen: dict[tuple[str, int, int], list[Frame]] = {}
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
        copy = None
        for fr in got:
            key = (fr.sop_instance_uid, fr.frame, fr.tile[0] if fr.tile else 0)
            earlier = seen.get(key) if fr.sop_instance_uid else None
            if earlier is not None:
                if copy is None:
                    copy = any(_same_content(fr, e) for e in earlier)
                if copy:
                    if fr.frame == 0:
                        result.skipped.append(
                            Problem(fr.source.origin, "the same instance was already read (a copy)")
                        )
                    continue
                # the same SOP Instance UID, other content: both are kept, apart
                fr.variant = len(earlier)
                result.conflicts.append(fr.where)
            seen.setdefault(key, []).append(fr)
            frames.append(fr)

    by_series: dict[str, list[Frame]] = defaultdict(list)
    conflicted = {fr.series_uid for fr in frames if fr.variant}
    for fr in frames:
        by_series[fr.series_uid or f"(no series uid) {fr.source.origin}"].append(fr)
    for series_frames in by_series.values():
        parts = _split_series(series_frames)
        if series_frames[0].series_uid in conflicted:
            for part in parts:
                part.warnings.append(
                    "some files share a SOP Instance UID with other files but differ from them "
                    f"(e.g. {result.conflicts[0]}): both were kept, in separate series"
                )
        result.series.extend(parts)

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


def _untrue_values(frames: list[Frame]) -> list[str]:
    """One warning per kind of untrue header value among ``frames`` (with how many images and
    an example), and one per doubt the headers leave (``Frame.doubts``), for every part of
    their series."""
    out = []
    for prefix, kind in (("untrue header value in ", "notes"), ("", "doubts")):
        seen: dict[str, list[Frame]] = defaultdict(list)
        for fr in frames:
            for note in getattr(fr, kind):
                seen[note].append(fr)
        for note, where in seen.items():
            n = len({id(fr.source) for fr in where})
            out.append(f"{prefix}{n} image(s) (e.g. {where[0].where}): {note}")
    return out


def _component(fr: Frame) -> str:
    """What kind of image ``fr`` is beyond plain magnitude, named as dcm2niix names its files:
    ``"ph"`` (phase), ``"real"``, ``"imaginary"``, a derived map (``"ADC"``, ``"FA"``,
    ``"TRACEW"``...), or ``""`` (magnitude, the usual case)."""
    values = fr.image_type[2:]
    for v in values:
        if v in ("P", "PHASE"):
            return "ph"
        if v in ("R", "REAL"):
            return "real"
        if v in ("I", "IMAGINARY"):
            return "imaginary"
    for v in values:
        if v in _DERIVED_MAPS:
            return _DERIVED_MAPS[v]
    return ""


# ImageType values of derived maps that share positions with the images they come from
_DERIVED_MAPS = {
    "ADC": "ADC",
    "EADC": "EADC",
    "FA": "FA",
    "TRACEW": "TRACEW",
    "TRACE": "TRACEW",
    "ISOTROPIC": "TRACEW",
    "CALC_BVALUE": "CALC_BVALUE",
    "T1 MAP": "T1MAP",
    "T2 MAP": "T2MAP",
    "FIELD_MAP": "fieldmap",
}


def _normal(fr: Frame) -> npt.NDArray[np.float64]:
    assert fr.iop is not None
    return _unit(np.cross(_unit(fr.iop[:3]), _unit(fr.iop[3:])))


def _position_keys(frames: list[Frame]) -> list[int]:
    """The slice position of each frame along the stack's normal, in units of ``_DUP_MM``."""
    n = _normal(frames[0])
    return [round(float(np.asarray(fr.ipp) @ n) / _DUP_MM) for fr in frames]


def _acq_order(fr: Frame) -> tuple[float, float, float]:
    """When a frame was acquired, as far as the header says (for ordering volumes)."""
    return (
        fr.acquisition_number if fr.acquisition_number is not None else math.inf,
        fr.acquisition_time if fr.acquisition_time is not None else math.inf,
        fr.instance_number if fr.instance_number is not None else math.inf,
    )


def _diffusion_key(fr: Frame) -> tuple[float, tuple[float, float, float]] | None:
    if fr.b_value is None:
        return None
    return (fr.b_value, tuple(round(x, 4) for x in fr.b_vector or (0.0, 0.0, 0.0)))  # type: ignore[return-value]


# Dimension Index Pointers that say where a frame is within a volume: its stack's slice
# (In-Stack Position Number, Image Position (Patient)); the other indices of an enhanced
# file's DimensionIndexValues (Stack ID, Temporal Position Index, b-value, gradient
# direction, trigger delay...) say which volume (and which stack) it belongs to
_SPATIAL_POINTERS = frozenset({0x00209057, 0x00200032})
_POINTER_NAMES = {
    0x00209056: "StackID",
    0x00209128: "TemporalPositionIndex",
    0x00189087: "DiffusionBValue",
    0x00189089: "DiffusionGradientOrientation",
    0x00209153: "NominalCardiacTriggerDelayTime",
    0x00189082: "EffectiveEchoTime",
    0x00200100: "TemporalPositionIdentifier",
    0x00181060: "TriggerTime",
}


def _index_key(fr: Frame) -> tuple[int, ...] | None:
    """The volume (and stack) of an enhanced multi-frame frame by its DimensionIndexValues:
    the values of every dimension but the slice's own (see ``_SPATIAL_POINTERS``), or None
    when the file does not say which index is which."""
    ptrs, values = fr.dimension_pointers, fr.stack_key
    if ptrs is None or values is None or len(ptrs) != len(values):
        return None
    if not any(p in _SPATIAL_POINTERS for p in ptrs):
        return None  # nothing says which index is the slice: not trusted to name volumes
    return tuple(v for p, v in zip(ptrs, values, strict=True) if p not in _SPATIAL_POINTERS)


def _temporal_index(fr: Frame) -> int | None:
    """The temporal position of a frame: its attribute, else its Temporal Position Index
    entry of DimensionIndexValues."""
    if fr.temporal_position is not None:
        return fr.temporal_position
    ptrs, values = fr.dimension_pointers or (), fr.stack_key or ()
    for p, v in zip(ptrs, values, strict=False):
        if p == 0x00209128:
            return v
    return None


def _index_source(frames: list[Frame]) -> str:
    """``DimensionIndexValues (TemporalPositionIndex)``: what the volumes' indices index."""
    ptrs = frames[0].dimension_pointers or ()
    names = [_POINTER_NAMES.get(p, f"({p >> 16:04X},{p & 0xFFFF:04X})") for p in ptrs
             if p not in _SPATIAL_POINTERS]  # fmt: skip
    return f"DimensionIndexValues ({', '.join(names)})"


# Attributes whose value *is* the volume, tried in this order: (name, value of a frame, order
# of the volumes: by the value itself, or by when the volume was acquired)
_VOLUME_KEYS: list[tuple[str, Any, bool]] = [
    ("DimensionIndexValues", _index_key, True),
    ("TemporalPositionIdentifier", lambda fr: fr.temporal_position, True),
    ("TriggerTime", lambda fr: fr.trigger_time, True),
    ("FrameTime", lambda fr: fr.cine_time, True),  # a legacy multi-frame cine
    ("DiffusionBValue+GradientOrientation", _diffusion_key, False),
    ("AcquisitionNumber", lambda fr: fr.acquisition_number, True),
]


def _volumes_of(
    frames: list[Frame], warnings: list[str]
) -> list[tuple[list[list[Frame]], str]] | None:
    """Split a stack with repeated positions into volumes that each hold every position once.

    Returns a list of parts, each ``(volumes, source)``: the volumes (in order) that cover the
    same positions, and the attribute(s) that told them apart; or None when no position repeats
    or nothing tells the repeats apart (then the duplicates are reported as such).
    """
    keys = _position_keys(frames)
    counts: dict[int, int] = defaultdict(int)
    for k in keys:
        counts[k] += 1
    if max(counts.values()) == 1:
        return None
    for source, value, by_value in _VOLUME_KEYS:
        vals = [value(fr) for fr in frames]
        if any(v is None for v in vals):
            continue
        groups: dict[Any, list[int]] = defaultdict(list)
        for i, v in enumerate(vals):
            groups[v].append(i)
        if len(groups) < 2:
            continue
        if any(len({keys[i] for i in g}) != len(g) for g in groups.values()):
            continue  # a value repeats within a position: not what tells volumes apart
        if by_value:
            ordered = [groups[v] for v in sorted(groups)]
        else:
            ordered = sorted(groups.values(), key=lambda g: min(_acq_order(frames[i]) for i in g))
        # volumes that cover the same positions form one 4D part; others are parts of their own
        parts: dict[frozenset[int], list[list[Frame]]] = {}
        for g in ordered:
            parts.setdefault(frozenset(keys[i] for i in g), []).append([frames[i] for i in g])
        if source == "DimensionIndexValues":
            source = _index_source(frames)
        if len(parts) > 1:
            warnings.append(
                f"the images of this series differ in {source} and cover {len(parts)} different "
                "sets of slice positions: each set is a series of its own"
            )
        return [(vols, source) for vols in parts.values()]
    # Nothing names the volumes: the k-th acquisition at every position is volume k.
    if len(set(counts.values())) != 1:
        return None
    by_pos: dict[int, list[int]] = defaultdict(list)

    def rank(i: int) -> tuple[Any, ...]:
        fr = frames[i]
        return (*_acq_order(fr), fr.stack_key or (), fr.frame, i)

    for i in sorted(range(len(frames)), key=rank):
        by_pos[keys[i]].append(i)
    m = next(iter(counts.values()))
    vols = [[frames[by_pos[p][v]] for p in by_pos] for v in range(m)]
    if all(fr.acquisition_time is not None for fr in frames):
        return [(vols, "AcquisitionTime")]
    if all(fr.stack_key is not None for fr in frames):
        return [(vols, "DimensionIndexValues")]
    distinct = all(
        len({frames[i].instance_number for i in at}) == len(at) for at in by_pos.values()
    )
    if all(fr.instance_number is not None for fr in frames) and distinct:
        source = "InstanceNumber"
    elif all(fr.n_frames > 1 for fr in frames):
        source = "frame order"
    else:
        return None
    warnings.append(
        f"repeated slice positions told apart by nothing but {source}: the volumes are in "
        "that order"
    )
    return [(vols, source)]


def _dimension(volumes: list[list[Frame]], source: str, warnings: list[str]) -> Dimension:
    """What the 4th axis of ``volumes`` means, with its values."""
    firsts = [v[0] for v in volumes]
    b = [fr.b_value for fr in firsts]
    diffusion = all(x is not None for x in b) and len({_diffusion_key(fr) for fr in firsts}) > 1
    b_values: tuple[float, ...] = ()
    b_vectors: tuple[tuple[float, float, float], ...] = ()
    if all(x is not None for x in b):
        b_values = tuple(float(x) for x in b)  # type: ignore[arg-type]
        b_vectors = tuple(fr.b_vector or (0.0, 0.0, 0.0) for fr in firsts)
        for n, vol in enumerate(volumes):
            if len({_diffusion_key(fr) for fr in vol}) > 1:
                warnings.append(
                    f"volume {n + 1}: its slices disagree on the diffusion b-value or direction; "
                    "those of its first slice are used"
                )
                break
    if diffusion:
        return Dimension("diffusion", source, b_values, "s/mm2", b_values, b_vectors)
    name, unit = "repetition", ""
    values: tuple[float | None, ...] = tuple(float(n) for n in range(len(volumes)))
    times = [
        min((fr.acquisition_time for fr in v if fr.acquisition_time is not None), default=None)
        for v in volumes
    ]
    if source == "FrameTime":
        name, unit = "time", "s"
        values = tuple(fr.cine_time for fr in firsts)
        _irregular_frame_times(values, warnings)
    elif source == "TriggerTime" or (
        "TriggerDelay" in source and all(fr.trigger_time is not None for fr in firsts)
    ):
        name, unit = "cardiac phase", "ms"
        values = tuple(fr.trigger_time for fr in firsts)
    elif all(t is not None for t in times):
        t0 = times[0]
        assert t0 is not None
        name = "acquisition" if source == "AcquisitionNumber" else "time"
        values, unit = tuple(round(t - t0, 4) for t in times if t is not None), "s"
    elif source == "TemporalPositionIdentifier" or "TemporalPosition" in source:
        name, values = "time", tuple(_temporal_index(fr) for fr in firsts)
    elif source == "AcquisitionNumber":
        name, values = "acquisition", tuple(fr.acquisition_number for fr in firsts)
    return Dimension(name, source, values, unit, b_values, b_vectors)


_RATE_NAMES = {
    "RecommendedDisplayFrameRate": "Recommended Display Frame Rate",
    "FrameTime": "Frame Time",
    "FrameTimeVector": "Frame Time Vector",
    "CineRate": "Cine Rate",
}


def _cine_of(frames: Sequence[Frame]) -> tuple[float, str] | None:
    """``(frames per second, attribute)`` of a multi-frame image without positions whose
    file says it is played (Frame Time, Frame Time Vector, Cine Rate, Recommended Display
    Frame Rate: ``Frame.frame_rate``, none where Frame Increment Pointer names slices): a
    cine; else None."""
    first = frames[0]
    if len(frames) < 2 or (first.ipp is not None and first.iop is not None):
        return None
    return first.frame_rate


def _irregular_frame_times(values: Sequence[float | None], warnings: list[str]) -> None:
    """Say so when a cine's frames (Frame Time Vector) are not evenly spaced in time: a
    NIfTI holds one time step (``pixdim[4]``, their mean), its sidecar the real times
    (``FrameTimesStart``); dcm2niix ignores the vector and stacks such frames as slices."""
    if len(values) < 3 or any(v is None for v in values):
        return
    steps = np.diff(np.asarray(values, dtype=np.float64))
    mean = float(steps.mean())
    # past 1 % of the mean (and half a millisecond: the vector's DS rounding)
    if float(np.abs(steps - mean).max()) <= max(0.01 * mean, 0.0005):
        return
    warnings.append(
        f"irregular Frame Time Vector: frames {steps.min():g} to {steps.max():g} s apart; "
        f"a NIfTI's time step is their mean, {mean:.6g} s, and its sidecar's FrameTimesStart "
        "holds the real times"
    )


def _same_slices(a: list[Frame], b: list[Frame]) -> bool:
    """Whether two sorted volumes have their slices at the same places (within 0.05 mm)."""
    pa = np.array([fr.ipp for fr in a], dtype=np.float64)
    pb = np.array([fr.ipp for fr in b], dtype=np.float64)
    return pa.shape == pb.shape and bool(np.abs(pa - pb).max() <= 0.05)


def _sorted_like(frames: list[Frame]) -> list[Frame]:
    """``frames`` (one volume, no repeated position) in slice order, as _stack_geometry sorts."""
    keys = _position_keys(frames)
    return [frames[i] for i in sorted(range(len(frames)), key=lambda i: (keys[i], i))]


_Part: TypeAlias = (
    "tuple[list[Frame], _Geometry, list[list[Frame]] | None, Dimension | None, list[str], str]"
)


def _stack_parts(group: list[Frame], warnings: list[str]) -> list[_Part]:
    """One stack -> its parts: ``(frames, geometry, volumes, dimension, warnings, tag)``,
    ``tag`` what to add to the stack's name (``"TRACEW"`` for trace volumes set apart)."""
    own: list[str] = []
    found = _volumes_of(group, own)
    if found is None:
        w = list(warnings)
        frames, geo = _stack_geometry(group, w)
        return [(frames, geo, None, None, w, "")]
    out: list[_Part] = []
    for vols, source in found:
        w = list(warnings) + own
        first, geo = _stack_geometry(vols[0], w)
        if len(vols) == 1:
            out.append((first, geo, None, None, w, ""))
            continue
        rest = [_sorted_like(v) for v in vols[1:]]
        if not all(_same_slices(first, v) for v in rest):
            # positions agree along the normal but not in the plane: keep each on its own
            w.append("the volumes of this series are not at the same places: shown separately")
            for v in [first, *rest]:
                ww = list(warnings)
                f2, g2 = _stack_geometry(v, ww)
                out.append((f2, g2, None, None, ww, ""))
            continue
        volumes = [first, *rest]
        dimension = _dimension(volumes, source, w)
        trace = _trace_volumes(dimension)
        if not trace:
            out.append((first, geo, volumes, dimension, w, ""))
            continue
        # isotropic (trace) images among directional ones: a b > 0 without a direction
        # would spoil the .bvec, so they are a series of their own, as dcm2niix removes them
        said = (
            f"{len(trace)} isotropic (trace) diffusion volume(s) of this series, b > 0 without "
            f"a gradient direction, are kept apart (TRACEW) from its {len(volumes) - len(trace)} "
            "directional volume(s), as dcm2niix removes them"
        )
        for picked, tag in (
            ([v for i, v in enumerate(volumes) if i not in trace], ""),
            ([volumes[i] for i in sorted(trace)], "TRACEW"),
        ):
            ww = [*w, said]
            many = len(picked) > 1
            dim = _dimension(picked, source, ww) if many else None
            out.append((picked[0], geo, picked if many else None, dim, ww, tag))
    return out


def _trace_volumes(dim: Dimension) -> set[int]:
    """The volumes of a diffusion series that are isotropic (trace) images: b > 0 and no
    direction, in a series that also has directional b > 0 volumes (a series of trace images
    alone, b 0/500/1000, keeps them all)."""
    if dim.name != "diffusion" or not dim.b_vectors:
        return set()
    iso = {
        i
        for i, (b, g) in enumerate(zip(dim.b_values, dim.b_vectors, strict=True))
        if b > 0 and not any(g)
    }
    directional = sum(
        1 for b, g in zip(dim.b_values, dim.b_vectors, strict=True) if b > 0 and any(g)
    )
    return iso if directional else set()


def _same_content(a: Frame, b: Frame) -> bool:
    """Whether two frames with one SOP Instance UID are copies: the same header values that
    place and scale the image, and (for two files) the same bytes."""

    def fingerprint(fr: Frame) -> tuple[Any, ...]:
        return (
            fr.ipp,
            fr.iop,
            fr.rows,
            fr.columns,
            fr.bits_allocated,
            fr.slope,
            fr.intercept,
            fr.image_type,
            fr.echo_number,
            fr.temporal_position,
            fr.acquisition_time,
            fr.pixel_length,
            fr.series_uid,
        )

    if fingerprint(a) != fingerprint(b):
        return False
    pa, pb = a.source.path, b.source.path
    if pa is not None and pb is not None and pa != pb:
        import filecmp

        try:
            return filecmp.cmp(pa, pb, shallow=False)
        except OSError:
            return True  # unreadable now: reading its pixels will say so
    if a.source.data is not None and b.source.data is not None:
        return a.source.data == b.source.data
    return True


def _echoes_by_time(frames: list[Frame]) -> dict[int, float]:
    """The echo of each frame (``id(frame)`` -> 1, 2, ... by Echo Time) when the echoes of a
    multi-echo series are told apart by Echo Time alone (every frame the same Echo Numbers,
    or none), as dcm2niix splits them; empty otherwise (Echo Numbers then say the echo).

    Only the signature of a multi-echo acquisition counts: two to 32 echo times, each held
    by the same number of frames, so a stray value on one slice never splits a volume."""
    if len({fr.echo_number for fr in frames}) != 1:
        return {}
    by_te: dict[float, int] = defaultdict(int)
    for fr in frames:
        if fr.echo_time is None:
            return {}
        by_te[fr.echo_time] += 1
    if not 2 <= len(by_te) <= 32 or len(set(by_te.values())) != 1:
        return {}
    # echoes share positions: a stack whose every image has its own place is one volume,
    # whatever its Echo Times (a vendor that rounds TE per slice)
    places = {tuple(round(v, 2) for v in fr.ipp) for fr in frames if fr.ipp is not None}
    if len(places) == len(frames):
        return {}
    rank = {te: float(k) for k, te in enumerate(sorted(by_te), 1)}
    return {id(fr): rank[fr.echo_time] for fr in frames if fr.echo_time is not None}


def _split_series(frames: list[Frame]) -> list[Series]:
    """One Series Instance UID -> its stacks (volumes, 4D series, images, localizers).

    Frames are grouped by what makes them different images (as dcm2niix splits a series):
    orientation, image size, colour, Series Number, echo, image component (magnitude, phase,
    real, imaginary, derived map) and a conflicting copy of an instance; each group's
    repeated positions are then told apart into the volumes of a 4D series.
    """
    stacks: dict[tuple, list[Frame]] = defaultdict(list)
    singles: list[tuple[str, list[Frame]]] = []
    per_file: dict[int, list[Frame]] = defaultdict(list)
    echo_of = _echoes_by_time(frames)
    for fr in frames:
        if fr.ipp is None or fr.iop is None:
            per_file[id(fr.source)].append(fr)
            continue
        kind = "localizer" if fr.is_localizer else "volume"
        key = (
            kind,
            _orientation_key(fr.iop),
            fr.rows,
            fr.columns,
            fr.is_colour,
            echo_of.get(id(fr), fr.echo_number),
            fr.info.get("series_number"),
            _component(fr),
            fr.variant,
            # two pixel spacings are two stacks (one volume would show half of it at the
            # wrong size); rounded to a micrometre against header rounding
            None
            if fr.pixel_spacing is None
            else (round(fr.pixel_spacing[0], 3), round(fr.pixel_spacing[1], 3)),
        )
        stacks[key].append(fr)
    for group in per_file.values():
        singles.append(("frames" if len(group) > 1 else "image", group))

    out: list[Series] = []
    volume_keys = [k for k in stacks if k[0] == "volume"]
    sizes = {(k[2], k[3]) for k in volume_keys}
    orients = {k[1] for k in volume_keys}
    echoes = sorted({k[5] for k in volume_keys}, key=lambda e: (e is None, e or 0.0))
    numbers = {k[6] for k in volume_keys}
    components = {k[7] for k in volume_keys}
    variants = {k[8] for k in volume_keys}
    spacings = {k[9] for k in volume_keys}
    for key, group in stacks.items():
        warnings: list[str] = []
        kind = key[0]
        tag = ""
        if kind == "volume":
            if len(echoes) > 1 and key[5] is not None:
                tag = f"e{echoes.index(key[5]) + 1}"
            if key[7]:
                tag = f"{tag}_{key[7]}" if tag else key[7]
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
                if len(numbers) > 1:
                    why.append(f"{len(numbers)} series numbers")
                if len(components) > 1:
                    why.append(
                        "image types " + ", ".join(sorted(c or "magnitude" for c in components))
                    )
                if len(variants) > 1:
                    why.append("instances sharing a SOP Instance UID with different content")
                if len(spacings) > 1:
                    why.append(
                        "pixel spacings "
                        + ", ".join(
                            "none" if sp is None else f"{sp[1]:g}x{sp[0]:g} mm"
                            for sp in sorted(spacings, key=lambda sp: sp or (0.0, 0.0))
                        )
                    )
                warnings.append(
                    f"this series was split into {len(volume_keys)} stacks ({'; '.join(why)}); "
                    f"this one is {key[3]}x{key[2]}, {len(group)} image(s)"
                )
        else:
            warnings.append("localizer (scout) image: kept out of the 3D volume")
        for part_frames, geo, volumes, dimension, w, extra in _stack_parts(group, warnings):
            part_kind = kind
            part_tag = f"{tag}_{extra}" if tag and extra else tag or extra
            if part_kind == "volume" and len(part_frames) == 1 and volumes is None:
                part_kind = "image"
            out.append(
                Series(
                    part_frames,
                    geo,
                    kind=part_kind,
                    warnings=w,
                    volumes=volumes,
                    dimension=dimension,
                    tag=part_tag,
                )
            )
    for kind, group in singles:
        warnings = _single_warnings(group[0])
        geo = _single_geometry(group[0])
        if kind == "frames":
            rate = _cine_of(group)
            if rate is not None:
                # frames in time (Frame Time, Frame Time Vector, Cine Rate, Recommended
                # Display Frame Rate): a cine, shown and exported frame by frame, never a
                # volume (docs/CORE.md, "Cines without positions")
                _irregular_frame_times([fr.cine_time for fr in group], warnings)
                if rate[1] == "RecommendedDisplayFrameRate" and any(
                    fr.cine_time is None for fr in group
                ):
                    warnings.append(
                        f"the frames' timing is the Recommended Display Frame Rate "
                        f"({rate[0]:g} frames/s), the sender's advice for display, not the "
                        "acquisition's: a NIfTI's time step is 1 / that rate"
                    )
            else:
                # neither positions nor timing: slices or time points, the file does not say.
                # Kept as before (a stack of frames; the viewer and render show it frame by
                # frame, refuse 3D; a NIfTI is a stack), and said wherever it goes: the
                # spacing between frames is assumed, not read
                warnings.append(
                    f"{len(group)} frames without slice positions or frame timing: whether "
                    f"they are slices or time points is not known; spacing assumed: "
                    f"{geo.spacing[2]:.3g} mm between frames where they are stacked (NIfTI), "
                    "3D distances are not reliable"
                )
        out.append(Series(group, geo, kind=kind, warnings=warnings))
    # header values set aside as untrue (a NaN position, broken direction cosines): every part
    # of the series says so, so the images kept apart are never silently missing from a volume
    untrue = _untrue_values(frames)
    for s in out:
        s.warnings.extend(untrue)
    # number the parts of a split series
    by_kind: dict[str, list[Series]] = defaultdict(list)
    for s in out:
        by_kind["volume" if s.kind == "image" else s.kind].append(s)
    for same in by_kind.values():
        if len(same) > 1:
            for k, s in enumerate(sorted(same, key=lambda s: -s.n_images)):
                s.part, s.parts = k, len(same)
            by_tag = len({s.tag for s in same}) == len(same)
            for s in same:
                s._by_tag = by_tag
                if not by_tag:
                    s.tag = ""  # tags do not tell these apart: part numbers do
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
