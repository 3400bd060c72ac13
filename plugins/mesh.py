"""The ``stl``, ``obj`` and ``ply`` exporters: a surface of the volume for 3D printing and
mesh viewers.

About this technique. The surface is the iso-surface of the voxel values at one threshold
(``--threshold HU``, or ``--surface bone`` = 300 HU / ``skin`` = -400 HU on CT; Otsu's threshold
of the volume when neither is given on other modalities), extracted by marching cubes
(scikit-image's classic Lorensen variant: its fixed resolution of the ambiguous cube faces is
the same in neighbouring cubes, so the surface has neither cracks nor edges shared by four
triangles; Lewiner's variant in scikit-image 0.26 made such edges on the real head MR). On
integer data (CT in HU, most MR) the iso-level is ``threshold - 0.5``: voxels at or above the
threshold are inside, and no vertex falls exactly on a voxel, where surfaces would pinch.
Before that the volume is cut to the box of the voxels above the
threshold and padded by one voxel of "outside" on every side, so the surface also closes where
the object touches the edge of the scan: every mesh is closed (watertight).

Geometry. Marching cubes gives vertices in continuous array indices ``(z, y, x)``; they are
reordered to ``(i, j, k)`` and mapped by :attr:`Volume.affine_ras` to millimetres in patient RAS
(x towards the patient's right, y anterior, z superior), the convention of 3D Slicer and of the
meshes 3D printing slicers and MeshLab are given, so a printed skull is not mirrored.
Oblique and sheared stacks are handled by the affine itself.

Clean-up. Taubin smoothing (trimesh: ``--smooth`` iterations, shrink-free, unlike plain
Laplacian smoothing) removes the voxel staircase; quadric-error decimation
(fast-simplification, ``--max-triangles``) brings the size down; then degenerate and duplicate
faces and unused vertices are dropped, and the triangles are wound so every normal points out
of the object (a closed mesh with outward normals has a positive signed volume; if the
affine or the reordering mirrored it, all faces are flipped). A mesh that is no longer closed
after decimation is an error, not a silent output.

Single-file formats: ``--output`` is the file (``.stl`` / ``.obj`` / ``.ply`` added when
missing); one series per export. Binary STL and PLY, text OBJ, all in millimetres.

Warnings. A surface of a series with warnings (uneven spacing, a gantry tilt...: what ``info``
shows) carries them (:func:`with_warnings`): OBJ and PLY in comment lines, which every reader
skips; STL, whose only text is an 80-byte header, in ``NAME.stl.warnings.txt`` beside it, the
header pointing there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np
    import trimesh

    from ownscan.core.plugin_types import OptionParser
    from ownscan.core.volume import Volume

__all__ = ["SURFACES", "MeshExporter", "MeshOptions", "surface_mesh", "with_warnings"]

log = logging.getLogger(__name__)

# Hounsfield thresholds of the named CT surfaces
SURFACES = {"bone": 300.0, "skin": -400.0}
EXTRA = "mesh"  # pip install "ownscan[mesh]"


@dataclass(frozen=True)
class MeshOptions:
    """How the surface is made.

    Parameters
    ----------
    threshold
        Iso-value in the volume's units (HU for CT); None: from ``surface``, else Otsu's.
    surface
        ``"bone"`` or ``"skin"`` (CT only) when ``threshold`` is None.
    max_triangles
        Decimate to at most this many triangles (0: no decimation).
    smooth
        Taubin smoothing iterations (0: none).
    """

    threshold: float | None = None
    surface: str | None = None
    max_triangles: int = 500_000
    smooth: int = 10

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MeshOptions:
        """From the export options (``threshold``, ``surface``, ``max_triangles``, ``smooth``)."""
        kw = {k: options.get(k) for k in ("threshold", "surface", "max_triangles", "smooth")}
        return cls(**{k: v for k, v in kw.items() if v is not None})

    def __post_init__(self) -> None:
        if self.surface is not None and self.surface not in SURFACES:
            raise UsageError(f"--surface {self.surface!r}: choose one of {', '.join(SURFACES)}")
        if self.max_triangles < 0 or 0 < self.max_triangles < 4:
            raise UsageError(f"--max-triangles {self.max_triangles}: give 0 (all) or at least 4")
        if self.smooth < 0:
            raise UsageError(f"--smooth {self.smooth}: give 0 or more iterations")


def threshold_for(volume: Volume, opts: MeshOptions) -> float:
    """The iso-value for ``volume``: the option, the named CT surface, or Otsu's threshold."""
    import numpy as np

    if opts.threshold is not None:
        return float(opts.threshold)
    is_ct = volume.modality == "CT" or volume.units == "HU"
    if opts.surface is not None:
        if not is_ct:
            raise UsageError(
                f"--surface {opts.surface} is a CT (Hounsfield) threshold; this is "
                f"{volume.modality or 'not CT'}: give --threshold VALUE"
            )
        return SURFACES[opts.surface]
    if is_ct:
        return SURFACES["bone"]
    filters = _need("skimage.filters")
    sample = volume.voxels[:: max(1, volume.voxels.shape[0] // 64)]
    return float(filters.threshold_otsu(np.asarray(sample, dtype=np.float32)))


def surface_mesh(volume: Volume, opts: MeshOptions | None = None) -> trimesh.Trimesh:
    """The closed surface of ``volume`` at the threshold, in mm in patient RAS.

    Parameters
    ----------
    volume
        A grey volume (``samples == 1``).
    opts
        Threshold, smoothing and decimation.

    Returns
    -------
    trimesh.Trimesh
        Watertight, without degenerate faces, normals pointing outwards.

    Raises
    ------
    ValueError
        An RGB volume, nothing above the threshold, or a surface that cannot be closed.
    """
    import numpy as np

    opts = opts or MeshOptions()
    if volume.samples != 1:
        raise UsageError("a surface needs a grey volume; this one is RGB")
    measure = _need("skimage.measure")
    tm = _need("trimesh")
    level = threshold_for(volume, opts)
    vox = volume.voxels
    iso = level - 0.5 if vox.dtype.kind in "iu" else level
    inside = _above(vox, iso)
    if inside is None:
        raise UsageError(
            f"no voxel is above the threshold {level:g} {volume.units} "
            f"(values {float(vox.min()):g}..{float(vox.max()):g})"
        )
    lo, hi = inside
    crop = np.asarray(vox[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], dtype=np.float32)
    outside = np.float32(min(float(crop.min()), iso) - 1.0)
    padded = np.pad(crop, 1, mode="constant", constant_values=outside)
    del crop
    verts_zyx, faces, _, _ = measure.marching_cubes(padded, level=iso, method="lorensen")
    del padded
    # array index (z, y, x) of the padded crop -> voxel index (i, j, k) of the volume
    ijk = verts_zyx[:, ::-1] + (np.asarray(lo[::-1], dtype=np.float64) - 1.0)
    affine = volume.affine_ras
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    mesh = tm.Trimesh(vertices=ras, faces=faces, process=True)
    if opts.smooth:
        tm.smoothing.filter_taubin(mesh, lamb=0.5, nu=-0.53, iterations=opts.smooth)
    if opts.max_triangles and len(mesh.faces) > opts.max_triangles:
        mesh = _decimate(mesh, opts.max_triangles)
    _clean(mesh)
    if not mesh.is_watertight:
        tm.repair.fill_holes(mesh)
        _clean(mesh)
    if not mesh.is_watertight:
        raise UsageError("the surface is not closed after decimation; try a larger --max-triangles")
    if mesh.volume < 0:  # the winding was mirrored (axis reordering or a left-handed affine)
        mesh.invert()
    return mesh


def _above(vox: np.ndarray, level: float) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The ``[lo, hi)`` box (z, y, x) of the voxels above ``level``, slab by slab (no mask of
    the whole volume in memory); None when there are none."""
    import numpy as np

    zs: list[int] = []
    y0, y1, x0, x1 = vox.shape[1], 0, vox.shape[2], 0
    for z in range(vox.shape[0]):
        m = vox[z] > level
        if not m.any():
            continue
        zs.append(z)
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        y0, y1 = min(y0, int(rows[0])), max(y1, int(rows[-1]) + 1)
        x0, x1 = min(x0, int(cols[0])), max(x1, int(cols[-1]) + 1)
    if not zs:
        return None
    return (zs[0], y0, x0), (zs[-1] + 1, y1, x1)


def _decimate(mesh: trimesh.Trimesh, max_triangles: int) -> trimesh.Trimesh:
    import numpy as np

    fs = _need("fast_simplification")
    tm = _need("trimesh")
    reduction = 1.0 - max_triangles / len(mesh.faces)
    points, faces = fs.simplify(
        np.asarray(mesh.vertices, dtype=np.float32),
        np.asarray(mesh.faces, dtype=np.int32),
        target_reduction=reduction,
    )
    return tm.Trimesh(vertices=points.astype(np.float64), faces=faces, process=True)


def _clean(mesh: trimesh.Trimesh) -> None:
    """Drop degenerate and duplicate faces and unused vertices (in place)."""
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    mesh.fix_normals()  # consistent winding within every connected piece


def _need(module: str) -> Any:
    from ownscan.plugins._output import need

    return need(module, EXTRA)


class MeshExporter:
    """One surface file (STL, OBJ or PLY) of one volume."""

    writes_folder = False

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def fits(self, volume: Volume) -> str | None:
        """Why a surface cannot be made of ``volume`` (None: it can): a surface needs a grey
        volume of several slices (what the viewer's Save offers)."""
        if volume.samples != 1:
            return "a surface needs a grey volume; this one is in colour"
        if volume.shape[0] < 2:
            return "a surface needs a volume of several slices; this is one image"
        return None

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write the surface of the one volume in ``volumes`` to the new file ``output``.

        Options: ``threshold``, ``surface``, ``max_triangles``, ``smooth``
        (:class:`MeshOptions`).
        """
        from ownscan.plugins._output import (
            check_free_beside,
            new_file,
            recorded_warnings,
            write_new,
            write_warnings_beside,
        )

        if len(volumes) != 1:
            raise UsageError(f"the {self.name} format writes one series; got {len(volumes)}")
        opts = MeshOptions.from_options(options)
        path = new_file(output, (f".{self.name}",), self.name)
        said = recorded_warnings(volumes[0])
        beside = said if self.name == "stl" else []  # STL's 80 bytes hold no warnings
        check_free_beside(path, beside)
        mesh = surface_mesh(volumes[0], opts)
        data = mesh.export(file_type=self.name)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):  # trimesh gives a dict only for formats not asked here
            raise TypeError(f"trimesh exported {type(data).__name__} for {self.name}")
        written = write_new(path, with_warnings(data, self.name, said))
        return [written, *write_warnings_beside(written, beside)]


def with_warnings(data: bytes, fmt: str, said: Sequence[str]) -> bytes:
    """The mesh file ``data`` (as trimesh writes ``fmt``) carrying the series' warnings ``said``.

    Where each format has room for text, as its readers skip it: OBJ comment lines (``#``) at
    the top; PLY ``comment`` lines in the header, after its ``format`` line (the PLY header is
    text even in a binary file); STL has only its 80-byte binary header, which says that the
    warnings are in the sidecar ``NAME.warnings.txt`` beside it (written by the caller). The
    header must not begin with ``solid`` (readers would take the file for ASCII STL).
    """
    from ownscan.core.recorded import one_line

    if not said:
        return data
    if fmt == "obj":
        lines = "".join(f"# ownscan warning: {one_line(w)}\n" for w in said)
        return lines.encode("utf-8") + data
    if fmt == "ply":
        head, sep, rest = data.partition(b"\n")  # "ply"
        fmt_line, sep2, body = rest.partition(b"\n")  # "format binary_little_endian 1.0"
        if head != b"ply" or not fmt_line.startswith(b"format ") or not sep2:
            raise ValueError("trimesh wrote a PLY without its 'ply' and 'format' lines")
        comments = "".join(f"comment ownscan warning: {one_line(w)}\n" for w in said)
        return head + sep + fmt_line + sep2 + comments.encode("utf-8") + body
    if fmt == "stl":
        n = len(said)
        note = f"ownscan: {n} series warning{'s' if n != 1 else ''}: see the .warnings.txt beside"
        return note.encode("ascii").ljust(80, b" ")[:80] + data[80:]
    raise ValueError(f"no room for warnings known in the {fmt} format")


@hookimpl
def ownscan_exporters() -> list[MeshExporter]:
    return [
        MeshExporter("stl", "surface mesh, binary STL (3D printing), mm in patient RAS"),
        MeshExporter("obj", "surface mesh, Wavefront OBJ, mm in patient RAS"),
        MeshExporter("ply", "surface mesh, binary PLY, mm in patient RAS"),
    ]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command != "export":
        return
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="VALUE",
        help="stl/obj/ply: surface at this value (HU on CT; default: bone on CT, "
        "Otsu's threshold otherwise)",
    )
    parser.add_argument(
        "--surface",
        choices=sorted(SURFACES),
        help="stl/obj/ply on CT: bone (300 HU) or skin (-400 HU)",
    )
    parser.add_argument(
        "--max-triangles",
        type=int,
        metavar="N",
        help="stl/obj/ply: decimate to at most N triangles (default 500000; 0: keep all)",
    )
    parser.add_argument(
        "--smooth",
        type=int,
        metavar="N",
        help="stl/obj/ply: Taubin smoothing iterations (default 10; 0: none)",
    )
