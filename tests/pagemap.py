"""How much of an array's memory is mapped into this process now, from ``/proc/self/pagemap``
(the present bit of each of its pages): the tests of file-backed volumes count with it."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from ownscan.core import _pixels
from ownscan.core.render._pages import on_disk, register_mapping, release_pages
from ownscan.core.volume import Volume


def resident_mib(arr: np.ndarray) -> float:
    """MiB of ``arr``'s pages mapped in this process now (skips the test without pagemap)."""
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


def file_backed(voxels: np.ndarray, descriptor: bool) -> Volume:
    """``voxels`` in an unnamed file on disk, written slice by slice through its mapping (as
    ``load_file_backed`` decodes into it), registered for release_pages (with the file's
    descriptor when ``descriptor``, as ``load_file_backed`` does: read_copy then reads it
    from the file), its pages dropped. Skips the test where the temporary folder is tmpfs."""
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")
    plan = _pixels.DecodePlan(voxels.dtype, voxels.shape, False, False, 0)
    with tempfile.TemporaryFile() as f:  # the mapping keeps the unnamed file
        f.truncate(voxels.nbytes)
        arr = _pixels.map_file(f.fileno(), 0, plan)
        for k, plane in enumerate(voxels):
            arr[k] = plane
        assert register_mapping(arr, f.fileno() if descriptor else None)
    release_pages(arr)
    return Volume(voxels=arr, spacing=(0.7, 0.7, 1.0))
