"""The built-in NIfTI exporter: one ``.nii.gz`` (or ``.nii``) per series, written with nibabel.

Geometry: NIfTI's voxel axes are ``(i, j, k)`` with ``i`` fastest, which is exactly the memory
order of a C-contiguous ``(z, y, x)`` Volume, so the data are written as ``voxels.T`` without a
copy. The affine is :attr:`Volume.affine_ras` (LPS -> RAS: x and y negated), stored in both the
sform and the qform with code 1 (scanner-based anatomical coordinates), as dcm2niix writes them.
Values are stored directly (Hounsfield units for CT, int16), with ``scl_slope = 1`` and
``scl_inter = 0``. RGB volumes are written as NIfTI's RGB24 type. A 2D image is a one-slice
volume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ownscan.core.volume import Volume

__all__ = ["NiftiExporter", "file_name", "to_nifti"]


def file_name(volume: Volume, used: set[str], suffix: str) -> str:
    """A safe, unique file name from the series number and description."""
    label = str(volume.extra.get("label") or "")
    if not label:
        num = volume.info.series_number
        label = f"{num if num is not None else 'series'} {volume.info.series_description}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "series"
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


class NiftiExporter:
    """Writes each volume as NIfTI-1 (``.nii.gz``; ``.nii`` with ``uncompressed``)."""

    name = "nifti"
    description = "NIfTI-1 volumes (.nii.gz, or .nii with --uncompressed), RAS affine"
    writes_folder = True

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write one file per volume into the folder ``output`` (created if needed).

        Options: ``uncompressed`` (bool) writes ``.nii`` instead of ``.nii.gz``.
        """
        import nibabel as nib

        output = Path(output)
        if output.exists() and not output.is_dir():
            raise ValueError(f"{output}: --output must be a folder for the nifti format")
        output.mkdir(parents=True, exist_ok=True)
        suffix = ".nii" if options.get("uncompressed") else ".nii.gz"
        used = {p.name for p in output.iterdir()}
        written = []
        for vol in volumes:
            path = output / file_name(vol, used, suffix)
            img = to_nifti(vol)
            if not (suffix == ".nii" and _write_single(img, vol, path)):
                nib.save(img, path)
            written.append(path)
        return written


def _write_single(img: Any, volume: Volume, path: Path) -> bool:
    """Write ``img`` as one uncompressed ``.nii``: nibabel's header, then the voxels in one
    ``write`` straight from the volume's memory (``voxels.T`` in Fortran order is the C order
    of ``voxels``). The bytes are those ``nibabel.save`` writes, without its chunked copies.

    False (nothing written) when nibabel would convert or scale the data: then it writes it.
    """
    import numpy as np

    vox = volume.voxels
    if volume.samples != 1 or not vox.flags.c_contiguous or not vox.dtype.isnative:
        return False
    img.get_data_dtype(finalize=True)
    img.update_header()
    hdr = img.header
    if hdr.get_data_dtype() != vox.dtype or not hdr.is_single:
        return False
    slope, inter = hdr.get_slope_inter()
    if slope not in (None, 1.0) or inter not in (None, 0.0):
        return False
    with open(path, "wb") as fp:
        hdr.write_to(fp)  # header, the empty-extension flag; sets vox_offset
        offset = int(hdr.get_data_offset())
        if fp.tell() < offset:
            fp.write(b"\0" * (offset - fp.tell()))
        if fp.tell() != offset:
            raise ValueError(f"{path}: NIfTI header is longer than its vox_offset")
        fp.write(memoryview(np.ascontiguousarray(vox)).cast("B"))  # type: ignore[arg-type]
    return True


@hookimpl
def ownscan_exporters() -> list[NiftiExporter]:
    return [NiftiExporter()]
