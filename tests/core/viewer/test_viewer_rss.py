"""The viewer's host memory: a series read from files stays out of the process once it is on
the GPU, and the whole viewer's peak RSS grows with the volume by its textures, not by a copy.

The loader quantises the volume for the upload off the window's thread; for a file-backed
volume that copy is file-backed too and its pages are let go as it is written, and behind the
gradient pass (``core/render/_pages.py``). What the process holds of a mapping is read from
``/proc/self/smaps`` (the Rss of the mapping that holds the array).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from ownscan.core.assembly import assemble
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.bench._memory import view_peak
from ownscan.core.render._gpu import DEFAULT_BUDGET, volume_limits
from ownscan.core.render._pages import is_released, load_file_backed, on_disk
from ownscan.core.render._setup import gradient_layout, prepare_volume
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.viewer._sources import SeriesEntry


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An 80 MiB CT with 0.8 mm slices (its gradient in the compact layout along all three
    axes) and an 8-slice one."""
    big = tmp_path_factory.mktemp("ct160")
    write_ct_series(big, n_slices=160, rows=512, cols=512, spacing=0.8)
    small = tmp_path_factory.mktemp("ct8")
    write_ct_series(small, n_slices=8, rows=64, cols=64, spacing=0.8)
    return {"big": big, "small": small}


def _scratch_on_disk() -> None:
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")


def resident_bytes(array: np.ndarray) -> int:
    """Bytes of the mapping holding ``array``'s first byte that are resident in this process
    (its Rss in ``/proc/self/smaps``)."""
    address = array.__array_interface__["data"][0]
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            inside = lo <= address < hi
        elif inside and head and head[0] == "Rss:":
            return int(head[1]) * 1024
    raise AssertionError("the array is in no mapping of this process")


def test_loader_leaves_neither_the_voxels_nor_their_quantised_copy_resident(series):
    _scratch_on_disk()
    s = assemble(series["big"]).series[0]
    entry = SeriesEntry("ct", s.info, lambda: load_file_backed(s))
    job = SeriesLoader(0, entry, 2048, DEFAULT_BUDGET, gradient=True)
    assert job.wait(300) and job.error is None and job.volume is not None
    parts = job.take_gradient()
    assert parts  # the gradient was computed from the copy
    volume = job.volume
    prepared = prepare_volume(volume, volume_limits(2048, volume.shape), DEFAULT_BUDGET)
    assert prepared.materialised  # the loader made it for the upload (the same, cached)
    data = prepared.data
    assert is_released(volume.voxels) and is_released(data)
    for what, array in (("voxels", volume.voxels), ("quantised copy", data)):
        held = resident_bytes(array)
        assert held < 0.1 * array.nbytes, f"{what}: {held >> 20} of {array.nbytes >> 20} MiB"
    # and the numbers are the in-memory quantisation's
    in_memory = prepare_volume(s.load(), volume_limits(2048, volume.shape), DEFAULT_BUDGET)
    np.testing.assert_array_equal(data, in_memory.data)


def test_viewer_peak_grows_by_its_textures_not_by_a_float_copy(series, xvfb):
    """The whole viewer process (``ownscan.core.bench._memory.view_peak``: the series shown
    with its shaded 3D view, two frames) for the 80 MiB CT and for an 8-slice one: the
    difference is the volume's textures (llvmpipe keeps them in host memory: the R16 volume
    1x, the RGB16 compact gradient padded to 8 bytes a texel) and at most 1x the volume more
    (measured 0.4-0.5x: slabs, the gradient slabs queued for the window's thread, the heap).
    A float32 copy of the volume (2x) fails it."""
    _scratch_on_disk()
    s = assemble(series["big"]).series[0]
    volume = s.load()
    nbytes = volume.voxels.nbytes
    texels = int(np.prod(gradient_layout(prepare_volume(volume)).texel_dims))
    textures = nbytes + 8 * texels
    del volume
    peaks = {}
    for name in ("big", "small"):
        m = view_peak(series[name], nbytes, (1280, 800), xvfb, timeout_s=600)
        assert "error" not in m, m
        peaks[name] = m["peak_mib"]
    grown = peaks["big"] - peaks["small"]
    bound = (textures + nbytes) / 2**20
    assert grown <= bound, (
        f"the 80 MiB volume raised the viewer's peak RSS by {grown:.0f} MiB; its textures "
        f"are {textures / 2**20:.0f} MiB (bound {bound:.0f} MiB)"
    )
