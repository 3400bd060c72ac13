"""A file-backed volume registered with its file's descriptor is read from the file, never
through its mapping: none of its pages is mapped into the process at any moment of the render
path's passes, not only after them.

Read through the mapping, each pass let go of a slab's pages behind it, but the slabs being
made (a few ahead on the worker threads) and the page-cache folios around them were mapped in
flight: 20-22 MiB of a 512x512x300 CT during its upload. ``read_copy`` reads each slab with
``preadv`` into memory of the process instead. Counted from ``/proc/self/pagemap`` (the present
bit of each page of the mapping) at every slab the upload receives and every gradient slab.
"""

from __future__ import annotations

import numpy as np
import pytest
from pagemap import file_backed
from pagemap import resident_mib as _resident_mib

from ownscan.core.render import prepare_volume
from ownscan.core.render._pages import (
    read_copy,
    read_copy_done,
    release_pages,
    scratch_like,
)
from ownscan.core.render._setup import gradient_layout, gradient_slabs
from ownscan.core.volume import Volume


@pytest.fixture(scope="module")
def voxels() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(-1000, 2000, (96, 512, 512), dtype=np.int16)  # 48 MiB


def test_read_copy_reads_the_file_not_the_mapping(voxels):
    volume = file_backed(voxels, descriptor=True)
    part = volume.voxels[17:29]
    copy = read_copy(part)
    np.testing.assert_array_equal(copy, voxels[17:29])
    assert not np.shares_memory(copy, volume.voxels)
    assert _resident_mib(volume.voxels) == 0.0
    # not a file mapping (or not contiguous): the array itself, the same numbers
    plain = voxels[3:5]
    assert read_copy(plain) is plain
    strided = volume.voxels[:, ::2]
    assert read_copy(strided) is strided


def test_upload_and_bounds_map_no_page_in_flight(voxels):
    volume = file_backed(voxels, descriptor=True)
    seen: list[float] = []

    def on_slab(k0: int, q: np.ndarray) -> None:
        seen.append(_resident_mib(volume.voxels))

    prepared = prepare_volume(volume, on_slab=on_slab)
    assert len(seen) > 10 and max(seen) == 0.0, f"resident during the upload: {max(seen)} MiB"
    assert _resident_mib(volume.voxels) == 0.0
    # the same numbers as a volume in memory: slabs and block tables
    in_memory = prepare_volume(Volume(voxels=voxels.copy(), spacing=(0.7, 0.7, 1.0)))
    assert (prepared.value_min, prepared.value_max) == (in_memory.value_min, in_memory.value_max)
    np.testing.assert_array_equal(prepared.block_min, in_memory.block_min)
    np.testing.assert_array_equal(prepared.block_max, in_memory.block_max)
    np.testing.assert_array_equal(prepared.slab(40, 52), in_memory.slab(40, 52))


def test_file_backed_quantised_copy_is_read_from_its_file(voxels):
    """The viewer's path: the whole quantised copy in a scratch file of its own, then the
    upload's and the gradient's slabs read from it."""
    volume = file_backed(voxels, descriptor=True)
    prepared = prepare_volume(volume)
    data = prepared.data
    assert data.base is not None and _resident_mib(data) == 0.0
    assert _resident_mib(volume.voxels) == 0.0
    seen: list[float] = []

    def slab(k0: int, k1: int) -> np.ndarray:
        q = prepared.slab(k0, k1)
        seen.append(_resident_mib(data) + _resident_mib(volume.voxels))
        return q

    layout = gradient_layout(prepared)
    made = sum(len(t) for _, t in gradient_slabs(layout, slab))
    assert made == layout.texel_dims[2]
    assert seen and max(seen) == 0.0, f"resident during the gradient: {max(seen)} MiB"
    in_memory = prepare_volume(Volume(voxels=voxels.copy(), spacing=(0.7, 0.7, 1.0)))
    np.testing.assert_array_equal(prepared.slab(0, len(voxels)), in_memory.data)


def test_scratch_like_keeps_the_descriptor(voxels):
    volume = file_backed(voxels, descriptor=True)
    out = scratch_like(volume.voxels, (4, 8, 8), np.uint16)
    out[:] = np.arange(out.size, dtype=np.uint16).reshape(out.shape)
    release_pages(out)
    copy = read_copy(out[1:3])
    assert not np.shares_memory(copy, out)
    np.testing.assert_array_equal(copy, np.arange(out.size).reshape(out.shape)[1:3])


def test_reused_buffer_gives_each_slab_its_own_numbers(voxels):
    volume = file_backed(voxels, descriptor=True)
    first = read_copy(volume.voxels[0:4], reuse=True)
    np.testing.assert_array_equal(first, voxels[0:4])
    second = read_copy(volume.voxels[8:10], reuse=True)  # the same bytes, overwritten
    assert np.shares_memory(first, second)
    np.testing.assert_array_equal(second, voxels[8:10])
    read_copy_done()
    third = read_copy(volume.voxels[1:3], reuse=True)  # a new buffer after read_copy_done
    assert not np.shares_memory(third, second)
    np.testing.assert_array_equal(third, voxels[1:3])
    read_copy_done()
    assert _resident_mib(volume.voxels) == 0.0


def test_default_window_reads_the_file(voxels):
    """The automatic window of a volume without a stored one samples every few slices: read
    from the file, the same window as in memory, and no page left mapped (15 MiB of the head
    MR's stayed resident to its first frame)."""
    volume = file_backed(voxels, descriptor=True)
    assert not volume.windows
    got = volume.default_window()
    assert _resident_mib(volume.voxels) == 0.0
    assert got == Volume(voxels=voxels.copy(), spacing=(0.7, 0.7, 1.0)).default_window()
