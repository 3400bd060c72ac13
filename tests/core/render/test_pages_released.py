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

import numpy as np
import pytest
from pagemap import file_backed
from pagemap import resident_mib as _resident_mib

from ownscan.core.render import prepare_volume
from ownscan.core.render._pages import release_pages
from ownscan.core.render._setup import gradient_layout, gradient_slabs
from ownscan.core.volume import Volume


@pytest.fixture(scope="module")
def voxels() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(-1000, 2000, (120, 512, 512), dtype=np.int16)  # 60 MiB


def test_upload_pass_leaves_no_pages(voxels):
    volume = file_backed(voxels, descriptor=False)
    written: list[int] = []
    prepared = prepare_volume(volume, on_slab=lambda k0, q: written.append(len(q)))
    assert sum(written) == len(voxels)  # every slab was quantised from the file
    left = _resident_mib(volume.voxels)
    assert left < 1.0, f"{left:.1f} MiB of a {voxels.nbytes >> 20} MiB volume stayed resident"
    # released, not lost: read again from the file, the same numbers as in memory
    in_memory = prepare_volume(Volume(voxels=voxels.copy(), spacing=(0.7, 0.7, 1.0)))
    np.testing.assert_array_equal(prepared.slab(40, 52), in_memory.slab(40, 52))


def test_gradient_pass_leaves_no_pages(voxels):
    volume = file_backed(voxels, descriptor=False)
    prepared = prepare_volume(volume)  # bounds only
    release_pages(volume.voxels)  # whatever that pass left: this test is the gradient's
    assert _resident_mib(volume.voxels) < 1.0
    layout = gradient_layout(prepared)
    made = sum(len(t) for _, t in gradient_slabs(layout, prepared.slab))
    assert made == layout.texel_dims[2]
    left = _resident_mib(volume.voxels)
    assert left < 1.0, f"{left:.1f} MiB of a {voxels.nbytes >> 20} MiB volume stayed resident"
