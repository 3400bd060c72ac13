"""Voxels in a scratch file (ownscan.core.render._pages): the same pictures, pages given back.

``ownscan render`` loads its series into an unnamed file on disk and lets the render path drop
the pages it has read (docs/RENDER.md, Large volumes). These tests load real series both ways
and compare the voxels and the GL pictures bit for bit, and read the process's resident
memory from /proc to see the pages go."""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from scenes import TF

from ownscan.core.assembly import assemble
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, GLRenderer, Scene, _setup, prepare_volume
from ownscan.core.render._pages import (
    load_file_backed,
    on_disk,
    register_mapping,
    release_pages,
    scratch_file,
)

MODES = {m.name: m for m in PluginHost().modes()}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc and madvise: Linux")


def _rss_file_kib() -> int:
    """Resident pages of file mappings in this process (RssFile, KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, n_slices=40, rows=96, cols=80)
    return assemble(folder).series[0]


def _scratch_on_disk() -> None:
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")


def test_file_backed_voxels_equal_the_loaded_ones(ct_series):
    _scratch_on_disk()
    in_memory = ct_series.load()
    backed = load_file_backed(ct_series)
    assert register_mapping(backed.voxels)  # a shared mapping of the scratch file
    np.testing.assert_array_equal(backed.voxels, in_memory.voxels)
    assert backed.voxels.dtype == in_memory.voxels.dtype
    assert backed.spacing == in_memory.spacing
    np.testing.assert_array_equal(backed.affine, in_memory.affine)
    release_pages(backed.voxels)  # dropped pages come back from the file, unchanged
    np.testing.assert_array_equal(backed.voxels, in_memory.voxels)


def test_release_gives_the_pages_back_and_keeps_the_bytes():
    _scratch_on_disk()
    fd = scratch_file()
    assert fd is not None
    n = 48 << 20
    try:
        data = np.arange(n // 4, dtype=np.int32)
        os.pwrite(fd, data.tobytes(), 0)
        mapped = np.frombuffer(mmap.mmap(fd, n, access=mmap.ACCESS_READ), np.int32)
    finally:
        os.close(fd)
    assert register_mapping(mapped)
    before = _rss_file_kib()
    assert int(mapped[::1024].sum()) == int(data[::1024].sum())  # touch every page
    touched = _rss_file_kib()
    assert touched - before > 40 << 10  # 48 MiB read in
    release_pages(mapped[: n // 8])  # the first half only
    half = _rss_file_kib()
    assert 16 << 10 < touched - half < 32 << 10
    release_pages(mapped)
    assert touched - _rss_file_kib() > 40 << 10
    np.testing.assert_array_equal(mapped, data)  # the same numbers, read again from the file


def test_unregistered_and_anonymous_memory_is_never_released():
    anon = np.frombuffer(mmap.mmap(-1, 1 << 20), np.uint8)
    anon[:] = 7
    release_pages(anon)  # not registered: untouched
    assert int(anon.min()) == 7
    assert not register_mapping(np.full(1 << 16, 3, np.uint8))  # not a mapping at all
    plain = np.full(1 << 20, 5, np.uint8)
    release_pages(plain)
    assert int(plain.min()) == 5


def test_on_disk_tells_memory_file_systems():
    kinds = {}  # mount point -> file system type
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        kinds[left.split()[4]] = right.split()[0]
    for point in [p for p, kind in kinds.items() if kind in ("tmpfs", "ramfs")][:3]:
        assert not on_disk(point)
        assert not on_disk(f"{point}/a/folder/below")  # the longest mount point decides
    assert on_disk("/") == (kinds["/"] not in ("tmpfs", "ramfs"))


@pytest.mark.parametrize("mode", ["mip", "dvr", "mpr"])
def test_gl_pictures_of_a_file_backed_volume_are_identical(
    gl_ctx, gl_check, ct_series, monkeypatch, mode
):
    _scratch_on_disk()
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 4096)  # many slabs, each released behind
    backed = load_file_backed(ct_series)
    in_memory = ct_series.load()
    camera = Camera(azimuth=25, elevation=10)
    pictures = []
    for vol in (in_memory, backed):
        renderer = GLRenderer(ctx=gl_ctx)
        try:
            scene = Scene(vol, MODES[mode], transfer_function=TF)
            pictures.append(renderer.render(scene, camera, (64, 48)))
        finally:
            renderer.close()
    assert pictures[0].any()
    np.testing.assert_array_equal(pictures[1], pictures[0])


def test_a_released_quantised_copy_is_made_again_the_same(ct_series):
    backed = load_file_backed(ct_series)
    prep = prepare_volume(backed)
    whole = prep.data.copy()
    prep.release_data()
    assert not prep.materialised
    np.testing.assert_array_equal(prep.slab(3, 11), whole[3:11])  # from the file's voxels
    np.testing.assert_array_equal(prep.data, whole)
