"""The built-in NIfTI exporter: one ``.nii.gz`` (or ``.nii``) per series, written with nibabel.

Geometry: NIfTI's voxel axes are ``(i, j, k)`` with ``i`` fastest, which is exactly the memory
order of a C-contiguous ``(z, y, x)`` Volume, so the data are written as ``voxels.T`` without a
copy. The affine is :attr:`Volume.affine_ras` (LPS -> RAS: x and y negated), stored in both the
sform and the qform with code 1 (scanner-based anatomical coordinates), as dcm2niix writes them.
Values are stored directly (Hounsfield units for CT, int16), with ``scl_slope = 1`` and
``scl_inter = 0``. RGB volumes are written as NIfTI's RGB24 type. A 2D image is a one-slice
volume.


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

from ownscan.core.errors import UsageError
from ownscan.core.files import PartFile
from ownscan.core.hookspecs import hookimpl
from ownscan.plugins._output import series_stem

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


def to_nifti(volume: Volume) -> Any:
    """The :class:`nibabel.Nifti1Image` of ``volume`` (no data copy for grey volumes)."""
    import nibabel as nib
    import numpy as np

    vox = volume.voxels
    if volume.samples == 3:
        rgb = np.ascontiguousarray(vox, dtype=np.uint8)
        data = rgb.view([("R", "u1"), ("G", "u1"), ("B", "u1")])[..., 0].T
    else:
        data = vox.T
    affine = volume.affine_ras
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    hdr.set_sform(affine, code=1)
    hdr.set_qform(affine, code=1)
    hdr.set_xyzt_units(xyz="mm")
    hdr.set_slope_inter(1.0, 0.0)
    desc = f"ownscan {volume.modality} {volume.units}".strip()
    hdr["descrip"] = desc[:79].encode("ascii", "replace")
    if volume.samples == 1 and volume.windows:
        w = volume.windows[0]
        hdr["cal_min"] = w.level - w.width / 2
        hdr["cal_max"] = w.level + w.width / 2
    return img


def sidecar(volume: Volume) -> dict[str, Any]:
    """The BIDS-style JSON sidecar of ``volume``: what the header knows, under the names
    dcm2niix's ``-b y`` sidecar uses; no patient identity (as dcm2niix by default)."""
    from importlib.metadata import PackageNotFoundError, version

    info = volume.info
    d = volume.direction
    data: dict[str, Any] = {
        "Modality": info.modality,
        "Manufacturer": info.manufacturer,
        "BodyPartExamined": info.body_part,
        "SeriesDescription": info.series_description,
        "SeriesNumber": info.series_number,
        # DICOM's row and column direction cosines (LPS) of the voxel axes i and j
        "ImageOrientationPatientDICOM": [round(float(v), 8) for v in (*d[:, 0], *d[:, 1])],
        "ConversionSoftware": "ownscan",
    }
    with contextlib.suppress(PackageNotFoundError):  # a source tree without installation
        data["ConversionSoftwareVersion"] = version("ownscan")
    return {k: v for k, v in data.items() if v not in ("", None)}


def _write_sidecar(nii: Path, volume: Volume) -> Path:
    """``NAME.json`` beside ``NAME.nii[.gz]``, a new file (never over an existing one)."""
    import json

    from ownscan.plugins._output import write_new

    stem = nii.name.removesuffix(".gz").removesuffix(".nii")
    text = json.dumps(sidecar(volume), indent=2) + "\n"
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
            img = to_nifti(vol)
            header = _single_header(img, vol) if suffix == ".nii" else None
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
                written.append(_write_sidecar(written[-1], vol))
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
        if not options.get("uncompressed") or series.samples != 1:
            return None
        if output.exists() and not output.is_dir():
            return None  # export() says so, after the load, as it always has
        _import_nibabel_without_pydicom()
        made = [p for p in (output, *output.parents) if not p.exists()]
        output = _folder(output)
        used = {p.name for p in output.iterdir()}
        with PartFile(output) as part:
            try:
                vol = series.load(out=VoxelFile(part.fd, _VOX_OFFSET))
            except BaseException:
                part.discard()
                for folder in made:  # leave no trace of a series that could not be decoded
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                raise
            img = to_nifti(vol)
            header = _single_header(img, vol)
            if header is None or len(header) != _VOX_OFFSET:  # nibabel converts: it writes
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
    if command == "export":
        parser.add_argument(
            "--json",
            action="store_true",
            default=None,
            help="nifti: a BIDS-style sidecar NAME.json beside each file (as dcm2niix -b y)",
        )
