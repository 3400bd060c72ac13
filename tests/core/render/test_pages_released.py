"""A file-backed volume keeps none of its pages resident after the render path's passes.

The passes let go of each slab's pages behind them (``release_pages``), but a read of the
slice beside a slab (the halo of the block bounds) maps the whole page-cache folio around it,
which the kernel may make several MiB: released slices came back and stayed, every few slices
(18 MiB of a 512x512x300 CT after its upload). The upload's pass now lets go of everything
before each slab; the gradient's pass (each slab quantised with its halo, let go behind)
leaves none either. Counted from ``/proc/self/pagemap`` (the present bit of
each page of the mapping).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from ownscan.core import _pixels
from ownscan.core.render import prepare_volume
from ownscan.core.render._pages import on_disk, register_mapping, release_pages
from ownscan.core.render._setup import gradient_layout, gradient_slabs
from ownscan.core.volume import Volume


def _resident_mib(arr: np.ndarray) -> float:
    """MiB of ``arr``'s pages mapped in this process now."""
    page = os.sysconf("SC_PAGE_SIZE")
    base = arr.__array_interface__["data"][0]
    first, last = base // page, (base + arr.nbytes - 1) // page
    try:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(first * 8)
            entries = np.frombuffer(f.read((last - first + 1) * 8), dtype="<u8")
    except OSError:
        pytest.skip("no /proc/self/pagemap")
    return float(((entries >> np.uint64(63)) & np.uint64(1)).sum()) * page / 2**20


def _file_backed(voxels: np.ndarray) -> Volume:
    """``voxels`` in an unnamed file on disk, written slice by slice through its mapping (as
    ``load_file_backed`` decodes into it), registered for release_pages, pages dropped."""
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")
    plan = _pixels.DecodePlan(voxels.dtype, voxels.shape, False, False, 0)
    with tempfile.TemporaryFile() as f:  # the mapping keeps the unnamed file
        f.truncate(voxels.nbytes)
        arr = _pixels.map_file(f.fileno(), 0, plan)
    for k, plane in enumerate(voxels):
        arr[k] = plane
    assert register_mapping(arr)
    release_pages(arr)
    return Volume(voxels=arr, spacing=(0.7, 0.7, 1.0))


@pytest.fixture(scope="module")
def voxels() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(-1000, 2000, (120, 512, 512), dtype=np.int16)  # 60 MiB


def test_upload_pass_leaves_no_pages(voxels):
    volume = _file_backed(voxels)
    written: list[int] = []
    prepared = prepare_volume(volume, on_slab=lambda k0, q: written.append(len(q)))
    assert sum(written) == len(voxels)  # every slab was quantised from the file
    left = _resident_mib(volume.voxels)
    assert left < 1.0, f"{left:.1f} MiB of a {voxels.nbytes >> 20} MiB volume stayed resident"
    # released, not lost: read again from the file, the same numbers as in memory
    in_memory = prepare_volume(Volume(voxels=voxels.copy(), spacing=(0.7, 0.7, 1.0)))
    np.testing.assert_array_equal(prepared.slab(40, 52), in_memory.slab(40, 52))


def test_gradient_pass_leaves_no_pages(voxels):
    volume = _file_backed(voxels)
    prepared = prepare_volume(volume)  # bounds only
    release_pages(volume.voxels)  # whatever that pass left: this test is the gradient's
    assert _resident_mib(volume.voxels) < 1.0
    layout = gradient_layout(prepared)
    made = sum(len(t) for _, t in gradient_slabs(layout, prepared.slab))
    assert made == layout.texel_dims[2]
    left = _resident_mib(volume.voxels)
    assert left < 1.0, f"{left:.1f} MiB of a {voxels.nbytes >> 20} MiB volume stayed resident"
