"""Running dcm2niix and comparing NIfTI files the way the brief asks (canonical RAS)."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = [
    "canonical",
    "compare",
    "dcm2niix",
    "gdcm_transcode",
    "ownscan_export",
    "world_bvecs",
]


def dcm2niix(indir: Path, outdir: Path, *extra: str) -> list[Path]:
    """``dcm2niix -z n -f %s_%d`` (and ``extra`` options); fails the test if the tool is
    missing or fails."""
    exe = shutil.which("dcm2niix")
    assert exe, "dcm2niix is not installed (Debian package dcm2niix; .ci/run installs it)"
    outdir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [exe, *extra, "-z", "n", "-f", "%s_%d", "-o", str(outdir), str(indir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, f"dcm2niix failed on {indir}:\n{r.stdout}\n{r.stderr}"
    return sorted(outdir.glob("*.nii"))


def ownscan_export(indir: Path, outdir: Path, *extra: str) -> list[Path]:
    """``ownscan export INDIR --format nifti --output OUTDIR --uncompressed`` in-process."""
    from ownscan.core.cli import main

    rc = main(
        [
            "export",
            str(indir),
            "--format",
            "nifti",
            "--output",
            str(outdir),
            "--uncompressed",
            *extra,
        ]
    )
    assert rc == 0, f"ownscan export failed on {indir} (rc {rc})"
    return sorted(outdir.glob("*.nii"))


def canonical(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Scaled voxels and affine after reorienting to the closest RAS orientation."""
    img = nib.as_closest_canonical(nib.load(path))
    return np.asarray(img.get_fdata(dtype=np.float64)), img.affine


def compare(ours: Path, theirs: Path, *, atol_mm: float = 0.01, exact: bool = True) -> None:
    a, aff_a = canonical(ours)
    b, aff_b = canonical(theirs)
    assert a.shape == b.shape, f"shape {a.shape} != dcm2niix {b.shape}"
    np.testing.assert_allclose(aff_a, aff_b, atol=atol_mm, rtol=0, err_msg="affine differs")
    if exact:
        diff = np.abs(a - b)
        assert diff.max() == 0, (
            f"voxels differ: max {diff.max()} at {np.unravel_index(diff.argmax(), a.shape)}"
        )
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-3)


def gdcm_transcode(src: Path, dst: Path, tool: list[str]) -> None:
    """Transcode every file of ``src`` into ``dst`` with ``tool`` (gdcmconv/dcmconv/...)."""
    exe = shutil.which(tool[0])
    assert exe, f"{tool[0]} is not installed (.ci/run installs dcmtk and libgdcm-tools)"
    dst.mkdir(parents=True, exist_ok=True)

    def one(f: Path) -> None:
        r = subprocess.run(
            [exe, *tool[1:], str(f), str(dst / f.name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, f"{' '.join(tool)} {f}: {r.stderr or r.stdout}"

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, sorted(src.iterdir())))


def world_bvecs(nii: Path) -> np.ndarray:
    """The .bvec beside ``nii`` as world (RAS) unit vectors, (n, 3): FSL's voxel-axis
    convention undone with the file's own affine, so that two files whose voxel axes differ
    can be compared."""
    a = nib.load(nii).affine[:3, :3]
    axes = a / np.linalg.norm(a, axis=0)
    v = np.loadtxt(nii.with_suffix(".bvec"), ndmin=2).copy()
    if np.linalg.det(a) > 0:
        v[0] = -v[0]
    return (axes @ v).T
