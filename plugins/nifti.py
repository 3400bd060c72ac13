"""The built-in NIfTI exporter: one ``.nii.gz`` (or ``.nii``) per series, written with nibabel.

Geometry: NIfTI's voxel axes are ``(i, j, k)`` with ``i`` fastest, which is exactly the memory
order of a C-contiguous ``(z, y, x)`` Volume, so the data are written as ``voxels.T`` without a
copy. The affine is :attr:`Volume.affine_ras` (LPS -> RAS: x and y negated), stored in both the
sform and the qform with code 1 (scanner-based anatomical coordinates), as dcm2niix writes them.
Values are stored directly (Hounsfield units for CT, int16), with ``scl_slope = 1`` and
``scl_inter = 0``. RGB volumes are written as NIfTI's RGB24 type. A 2D image is a one-slice
volume.

A series' warnings (what ``info``, ``render`` and the viewer show: irregular spacing, a sign
read against its header...) travel with the file: a NIfTI-1 comment extension (code 6) holds
them, one a line, and the ``--json`` sidecar lists them as ``ConversionWarnings`` (files named
without their folders: a folder may be named after the patient). (A 4D
series written straight into its file carries only the warnings known before its load in
that extension; the sidecar and the command's output have them all.)


An uncompressed grey series is decoded straight into its file (:meth:`NiftiExporter.
export_series`): the voxels go to byte 352 of a new unnamed file (``O_TMPFILE``), nibabel's
header is written in front of them, and the file gets its name only then, so an interrupted
export leaves no partial file under a final name. The bytes are those ``nibabel.save`` writes.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import OwnscanError, UsageError
from ownscan.core.files import PartFile
from ownscan.core.hookspecs import hookimpl
from ownscan.plugins._output import recorded_warnings, series_stem, shorten_names

if TYPE_CHECKING:
    from ownscan.core.assembly import Series
    from ownscan.core.plugin_types import OptionParser
    from ownscan.core.volume import Volume

__all__ = ["NiftiExporter", "file_name", "sidecar", "to_nifti"]

# Where the voxels of a single-file NIfTI-1 without extensions start: the 348-byte header
# and the 4-byte extension flag (nibabel's Nifti1Header.single_vox_offset).
_VOX_OFFSET = 352


def file_name(volume: Volume, used: set[str], suffix: str) -> str:
    """A safe, unique file name from the series number and description."""
    stem = series_stem(volume)
    name = stem + suffix
    n = 2
    while name in used:
        name = f"{stem}_{n}{suffix}"
        n += 1
    used.add(name)
    return name


_NIFTI1_MAX_DIM = 32767  # dim[] is int16 in a NIfTI-1 header


def _fits(shape: Sequence[int]) -> None:
    """Refuse, in one line, a volume (``(z, y, x)``) too large along an axis for NIfTI-1.

    Raises
    ------
    OwnscanError
        An axis holds more than 32767 voxels (this series cannot be NIfTI-1; others can).
    """
    if max(shape) > _NIFTI1_MAX_DIM:
        z, y, x = shape
        raise OwnscanError(
            f"NIfTI-1 holds at most {_NIFTI1_MAX_DIM} voxels along an axis; this series is "
            f"{x}x{y}x{z}"
        )


def _philips_fp(volume: Volume) -> Any:
    """The voxels as Philips' floating-point values (dcm2niix's default ``-p y``), float32."""
    import numpy as np

    f = np.asarray(volume.extra["philips_fp_scale"], dtype=np.float32)
    return volume.voxels.astype(np.float32) * f[:, None, None]


def _cine_step(volume: Volume) -> float | None:
    """The time between a cine's frames in seconds (their mean: the file's Frame Time or
    Frame Time Vector; else 1 / the rate the file states), or None when ``volume`` is no
    cine (frames without positions the file times; assembly's ``Series.cine``)."""
    if not volume.extra.get("cine") or volume.shape[0] < 2:
        return None
    times = volume.extra.get("frame_times_s")
    if times and len(times) > 1 and times[-1] > times[0]:
        return (float(times[-1]) - float(times[0])) / (len(times) - 1)
    rate = volume.extra.get("frame_rate")
    return 1.0 / float(rate[0]) if rate else None


def to_nifti(volume: Volume, *, philips_float: bool = False, comment_bytes: int = 0) -> Any:
    """The :class:`nibabel.Nifti1Image` of ``volume`` (no data copy for grey volumes).

    ``philips_float``: for Philips MR carrying the private MR Scale Slope, store Philips'
    floating-point values (``FP = (SV * RS + RI) / (RS * SS)``, what dcm2niix writes by default)
    instead of the DICOM display values (what a radiologist sees, the default here). The
    description says which. ``comment_bytes``: the warnings' extension holds that many bytes
    (NUL-padded) when they fit, so that its size was known before the load
    (:func:`_comment_room`)."""
    import nibabel as nib
    import numpy as np

    _fits(volume.voxels.shape[:3])
    vox = volume.voxels
    philips = volume.extra.get("philips_fp_scale") is not None and volume.samples == 1
    if philips and philips_float:
        vox = _philips_fp(volume)
    if volume.samples == 3:
        rgb = np.ascontiguousarray(vox, dtype=np.uint8)
        data = rgb.view([("R", "u1"), ("G", "u1"), ("B", "u1")])[..., 0].T
    else:
        data = vox.T
    step = _cine_step(volume)
    if step is not None:
        # a cine (frames in time without positions): one plane at x, y and its frames along
        # t, as a 4D NIfTI holds time points, never slices 1 mm apart. The same bytes: the
        # frames' axis moves from 3rd to 4th in Fortran order (a view, no copy)
        data = data[:, :, None, :]
    affine = volume.affine_ras
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    hdr.set_sform(affine, code=1)
    hdr.set_qform(affine, code=1)
    hdr.set_xyzt_units(xyz="mm")
    if step is not None:
        hdr.set_zooms((*hdr.get_zooms()[:3], step))
        hdr.set_xyzt_units(xyz="mm", t="sec")
    hdr.set_slope_inter(1.0, 0.0)
    desc = f"ownscan {volume.modality} {volume.units}".strip()
    if step is not None:
        rate = volume.extra.get("frame_rate") or (0.0, "")
        desc += f" cine ({'FrameTime' if volume.extra.get('frame_times_s') else rate[1]})"
    if philips:
        desc += " Philips FP scaling (dcm2niix -p y)" if philips_float else " display values"
    hdr["descrip"] = desc[:79].encode("ascii", "replace")
    _record_warnings(img, volume, comment_bytes)
    if volume.samples == 1 and volume.windows and not (philips and philips_float):
        w = volume.windows[0]
        hdr["cal_min"] = w.level - w.width / 2
        hdr["cal_max"] = w.level + w.width / 2
    return img


def _comment(warnings: Sequence[str]) -> bytes:
    text = "ownscan warnings:\n" + "\n".join(warnings) + "\n"
    return text.encode("utf-8", "replace")


def _comment_room(warnings: Sequence[str]) -> int:
    """Bytes to hold the comment of ``warnings`` and what a load may add (a sign read against
    the header), the extension's whole size a multiple of 16; 0 without warnings."""
    if not warnings:
        return 0
    return -(-(len(_comment(warnings)) + 512 + 8) // 16) * 16 - 8


def _record_warnings(img: Any, volume: Volume, room: int = 0) -> None:
    """The volume's warnings (what ``info``, ``render`` and the viewer show) in the file
    itself: a NIfTI-1 comment extension (code 6), one warning a line, so that they travel
    with the file to whoever reads it (``nibabel``: ``img.header.extensions``). ``room``:
    padded with NULs to that many bytes when the text fits."""
    from nibabel.nifti1 import Nifti1Extension

    if volume.warnings:
        content = _comment(recorded_warnings(volume))
        if len(content) <= room:
            content = content.ljust(room, b"\0")
        img.header.extensions.append(Nifti1Extension(6, content))


def sidecar(volume: Volume, *, philips_float: bool = False) -> dict[str, Any]:
    """The BIDS-style JSON sidecar of ``volume``: the acquisition fields dcm2niix's ``-b y``
    sidecar carries where the header knows them (TR, TE, flip angle, field strength, slice
    timing, phase encoding...; ``ownscan.core.dicom.acquisition_fields``), under its names and in
    its units, and which values the NIfTI holds for Philips MR (``UsePhilipsFloatNotDisplay
    Scaling``: 1 with ``philips_float``). No patient identity (as dcm2niix by default).

    Phase encoding and slice timing refer to the voxel axes of ownscan's NIfTI (see
    ``_acquisition``; dcm2niix's rows run the other way, so its ``j-`` is ``j`` here)."""
    from importlib.metadata import PackageNotFoundError, version

    from ownscan.core.dicom import acquisition_fields

    info = volume.info
    d = volume.direction
    data: dict[str, Any] = {
        "Modality": info.modality,
        "Manufacturer": info.manufacturer,
        "BodyPartExamined": info.body_part,
        "SeriesDescription": info.series_description,
        "SeriesNumber": info.series_number,
    }
    source = volume.extra.get("header_source")
    if source is not None:
        data.update(acquisition_fields(source))
    data.update(volume.extra.get("acquisition") or {})
    dim = volume.extra.get("dimension")
    times = volume.extra.get("frame_times_s") if volume.extra.get("cine") else None
    if times:  # a cine without positions: its frames' times, as for the one below
        data["FrameTimesStart"] = [round(float(v), 6) for v in times]
    if dim is not None and dim.source == "FrameTime" and None not in dim.values:
        # a cine's real frame times (s from the first), as dcm2niix names a PET's: the NIfTI's
        # one time step is their mean when they are irregular
        data["FrameTimesStart"] = [round(float(v), 6) for v in dim.values]
    if "PhilipsScaleSlope" in data:
        data["UsePhilipsFloatNotDisplayScaling"] = 1 if philips_float else 0
    # DICOM's row and column direction cosines (LPS) of the voxel axes i and j
    data["ImageOrientationPatientDICOM"] = [round(float(v), 8) for v in (*d[:, 0], *d[:, 1])]
    pe = data.pop("InPlanePhaseEncodingDirectionDICOM", None)
    if pe:  # after the orientation, where dcm2niix writes it
        data["InPlanePhaseEncodingDirectionDICOM"] = pe
    data["ConversionSoftware"] = "ownscan"
    with contextlib.suppress(PackageNotFoundError):  # a source tree without installation
        data["ConversionSoftwareVersion"] = version("ownscan")
    if volume.warnings:  # what info, render and the viewer show of this series
        data["ConversionWarnings"] = recorded_warnings(volume)
    return {k: v for k, v in data.items() if v not in ("", None)}


def _write_sidecar(nii: Path, volume: Volume, *, philips_float: bool = False) -> Path:
    """``NAME.json`` beside ``NAME.nii[.gz]``, a new file (never over an existing one)."""
    import json

    from ownscan.plugins._output import write_new

    stem = nii.name.removesuffix(".gz").removesuffix(".nii")
    text = json.dumps(sidecar(volume, philips_float=philips_float), indent=2) + "\n"
    return write_new(nii.with_name(stem + ".json"), text.encode("utf-8"))


class NiftiExporter:
    """Writes each volume as NIfTI-1 (``.nii.gz``; ``.nii`` with ``uncompressed``)."""

    name = "nifti"
    description = "NIfTI-1 volumes (.nii.gz, or .nii with --uncompressed), RAS affine"
    writes_folder = True

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write one file per volume into the folder ``output`` (created if needed).

        Options: ``uncompressed`` (bool) writes ``.nii`` instead of ``.nii.gz``; ``json``
        (bool) adds a BIDS-style sidecar ``NAME.json`` (:func:`sidecar`) beside each file.
        """
        import nibabel as nib

        output = _folder(output)
        suffix = ".nii" if options.get("uncompressed") else ".nii.gz"
        used = {p.name for p in output.iterdir()}
        written = []
        for vol in volumes:
            fp = (
                bool(options.get("philips_float")) and vol.extra.get("philips_fp_scale") is not None
            )
            # (the warnings' room as export_series gives it: the same bytes either way)
            room = _comment_room(recorded_warnings(vol))
            img = to_nifti(vol, philips_float=fp, comment_bytes=room)
            # the voxels' own memory follows the header, unless they were converted
            header = _single_header(img, vol) if suffix == ".nii" and not fp else None
            if header is not None:
                with PartFile(output) as part:
                    part.write(header, 0)
                    part.write(memoryview(vol.voxels).cast("B"), len(header))  # type: ignore[arg-type]
                    written.append(part.commit(lambda v=vol: output / file_name(v, used, suffix)))
            else:
                with PartFile(output, named=suffix) as part:
                    assert part.path is not None
                    nib.save(img, part.path)
                    written.append(part.commit(lambda v=vol: output / file_name(v, used, suffix)))
            if options.get("json"):
                written.append(_write_sidecar(written[-1], vol, philips_float=fp))
        return written

    def export_series(
        self, series: Series, output: Path, options: Mapping[str, Any]
    ) -> list[Path] | None:
        """Decode ``series`` straight into its ``.nii`` (the optional capability the
        ``export`` command uses before :meth:`Series.load` + :meth:`export`).

        Only uncompressed grey series; None (nothing written) for the others. The voxels are
        decoded into a new unnamed file after room for the header (``Series.load(out=...)``),
        nibabel's header is written in front, and the file is named when complete: the same
        bytes :meth:`export` writes, without the volume in anonymous memory nor the copy of
        its bytes into the file.
        """
        from ownscan.core.assembly import VoxelFile

        output = Path(output)
        if series.n_volumes > 1:
            return _export_4d(series, output, options)
        if not options.get("uncompressed") or series.samples != 1:
            return None
        if options.get("philips_float"):
            return None  # export() converts (Philips' scale is known after the load)
        if output.exists() and not output.is_dir():
            return None  # export() says so, after the load, as it always has
        _fits(series.shape)
        _import_nibabel_without_pydicom()
        made = [p for p in (output, *output.parents) if not p.exists()]
        output = _folder(output)
        used = {p.name for p in output.iterdir()}
        # the series' warnings go into a header extension: room for them (and for what the
        # load may add) before the voxels, so that they are still decoded straight in place
        room = _comment_room(shorten_names(series.warnings, series.files))
        offset = _VOX_OFFSET + (room + 8 if room else 0)
        with PartFile(output) as part:
            try:
                vol = series.load(out=VoxelFile(part.fd, offset))
            except BaseException:
                part.discard()
                for folder in made:  # leave no trace of a series that could not be decoded
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                raise
            img = to_nifti(vol, comment_bytes=room)
            header = _single_header(img, vol)
            if header is None or len(header) != offset:  # nibabel converts: it writes
                import dataclasses

                import numpy as np

                vol = dataclasses.replace(vol, voxels=np.array(vol.voxels))
                part.discard()
                return self.export([vol], output, options)
            part.write(header, 0)
            written = [part.commit(lambda: output / file_name(vol, used, ".nii"))]
        if options.get("json"):
            written.append(_write_sidecar(written[0], vol))
        return written


def _export_4d(series: Series, output: Path, options: Mapping[str, Any]) -> list[Path]:
    """One 4D NIfTI for a series of several volumes (as dcm2niix writes it), with ``.bval``
    and ``.bvec`` beside it for diffusion. Uncompressed: each volume is decoded straight into
    its place in the file; compressed: the volumes are stacked in memory and nibabel writes."""
    import nibabel as nib
    import numpy as np

    from ownscan.core.assembly import VoxelFile

    output = _folder(output)
    suffix = ".nii" if options.get("uncompressed") else ".nii.gz"
    used = {p.name for p in output.iterdir()}
    n = series.n_volumes
    fp = bool(options.get("philips_float"))
    # uncompressed grey integers go straight into the file; else the volumes are stacked
    # (a series with warnings carries them in a header extension: its header is longer)
    direct = suffix == ".nii" and series.samples == 1 and not fp and not series.warnings
    written: list[Path] = []
    with PartFile(output, named=None if direct else ".nii" if suffix == ".nii" else suffix) as part:
        # every volume in one dtype; straight into the file after the header when direct
        vols = series.load_volumes(out=VoxelFile(part.fd, _VOX_OFFSET) if direct else None)
        first = vols[0]
        if direct:
            hdr = _nifti_4d(first, first.voxels.T[..., None], n).header
            # a warning found by the load (the sign) is printed and in the sidecar, but not
            # in this header, whose voxels already lie at byte 352
            hdr.extensions.clear()
            hdr.set_data_dtype(first.voxels.dtype)
            hdr.set_data_offset(_VOX_OFFSET)
            buf = io.BytesIO()
            hdr.write_to(buf)  # header and the empty-extension flag
            if buf.tell() != _VOX_OFFSET:
                raise ValueError(f"NIfTI header of {buf.tell()} bytes, not {_VOX_OFFSET}")
            part.write(buf.getvalue(), 0)
        else:
            data = np.stack([np.asarray(to_nifti(v, philips_float=fp).dataobj) for v in vols], -1)
            img = _nifti_4d(first, data, n, philips_float=fp)
            assert part.path is not None
            nib.save(img, part.path)
        name = file_name(first, used, suffix)
        nii = part.commit(lambda: output / name)
        written.append(nii)
    if options.get("json"):
        philips = fp and first.extra.get("philips_fp_scale") is not None
        written.append(_write_sidecar(nii, first, philips_float=philips))
    dim = series.dimension
    if dim is not None and dim.b_values:
        stem = nii.name[: -len(suffix)]
        bval = " ".join(f"{b:g}" for b in dim.b_values) + "\n"
        vecs = dim.bvecs_fsl(first.affine_ras)
        bvec = "".join(" ".join(f"{x:.6g}" for x in row) + "\n" for row in vecs)
        for ext, text in ((".bval", bval), (".bvec", bvec)):
            with PartFile(output) as part:
                part.write(text.encode(), 0)
                written.append(part.commit(lambda e=ext: output / (stem + e)))
    return written


def _nifti_4d(first: Volume, data: Any, n: int, *, philips_float: bool = False) -> Any:
    """The 4D image of ``n`` volumes like ``first`` (``data``: its voxels, or all of them)."""
    import nibabel as nib

    img = to_nifti(first, philips_float=philips_float)
    hdr = img.header.copy()
    shape = (*first.voxels.T.shape[:3], n) if first.samples == 1 else (*data.shape[:3], n)
    out = nib.Nifti1Image(data, img.affine, hdr)
    out.header.set_data_shape(shape)
    tr = first.extra.get("repetition_time_ms")
    step = float(tr) / 1000.0 if tr else 1.0
    dim = first.extra.get("dimension")
    if dim is not None and dim.source == "FrameTime" and len(dim.values) > 1:
        # a legacy multi-frame cine: the time between its frames (Frame Time), not a TR; an
        # irregular Frame Time Vector gets the mean interval (assembly warns; the sidecar's
        # FrameTimesStart holds the real times)
        step = (float(dim.values[-1]) - float(dim.values[0])) / (len(dim.values) - 1)
    zooms = (*out.header.get_zooms()[:3], step)
    out.header.set_zooms(zooms)
    out.header.set_xyzt_units(xyz="mm", t="sec")
    if dim is not None:
        desc = f"ownscan {first.modality} 4D {dim.name} ({dim.source})"
        if first.extra.get("philips_fp_scale") is not None:
            desc += " Philips FP scaling" if philips_float else " display values"
        out.header["descrip"] = desc[:79].encode("ascii", "replace")
    return out


def _import_nibabel_without_pydicom() -> None:
    """Import nibabel as if pydicom were not installed, when nothing has imported either.

    ``nibabel.nifti1`` imports pydicom at import time, only to offer DICOM header extensions
    as datasets; pydicom's own import costs about 0.11 s (its pixel backends, ``requests``),
    a third of an uncompressed export now that headers are read without it. ownscan writes
    no extensions, so nibabel is imported with ``import pydicom`` failing: it then treats
    DICOM extensions as plain bytes for this process, as it does where pydicom is missing.
    pydicom itself imports normally afterwards. Used by :meth:`NiftiExporter.export_series`
    (the export command's path); the library functions import nibabel normally.
    """
    if "nibabel" in sys.modules or "pydicom" in sys.modules:
        return
    sys.modules["pydicom"] = None  # type: ignore[assignment]  # import pydicom: ImportError
    try:
        import nibabel  # noqa: F401
    finally:
        if "pydicom" in sys.modules and sys.modules["pydicom"] is None:
            del sys.modules["pydicom"]


def _folder(output: Path) -> Path:
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"{output}: --output must be a folder for the nifti format")
    output.mkdir(parents=True, exist_ok=True)
    return output


def _single_header(img: Any, volume: Volume) -> bytes | None:
    """The bytes ``nibabel.save`` writes before the voxels of ``img`` as one uncompressed
    ``.nii`` (header, extension flag, padding to ``vox_offset``), when they are followed by
    the volume's memory as it is: ``voxels.T`` in Fortran order is the C order of ``voxels``.

    None when nibabel would convert or scale the data (then it writes the file itself).
    """
    vox = volume.voxels
    if volume.samples != 1 or not vox.flags.c_contiguous or not vox.dtype.isnative:
        return None
    img.get_data_dtype(finalize=True)
    img.update_header()
    hdr = img.header
    if hdr.get_data_dtype() != vox.dtype or not hdr.is_single:
        return None
    slope, inter = hdr.get_slope_inter()
    if slope not in (None, 1.0) or inter not in (None, 0.0):
        return None
    buf = io.BytesIO()
    hdr.write_to(buf)  # header, the empty-extension flag; sets vox_offset
    offset = int(hdr.get_data_offset())
    if buf.tell() > offset:
        raise ValueError(f"NIfTI header is longer than its vox_offset ({buf.tell()} > {offset})")
    return buf.getvalue().ljust(offset, b"\0")


@hookimpl
def ownscan_exporters() -> list[NiftiExporter]:
    return [NiftiExporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    """``--philips-float`` and ``--json`` for ``export``."""
    if command == "export":
        parser.add_argument(
            "--philips-float",
            action="store_true",
            help="nifti: Philips MR as Philips' floating-point values (dcm2niix's default) "
            "instead of the DICOM display values",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            default=None,
            help="nifti: a BIDS-style sidecar NAME.json beside each file (as dcm2niix -b y)",
        )
