"""The viewer's loader lets the quantised copy's pages go without making the copy again.

``SeriesLoader`` quantises a file-backed volume into a scratch file of its own
(``PreparedVolume.data``) for the upload; the window's thread forgets that copy once it has
uploaded it (``release_data``) while the loader still computes the gradient. The loader's
last step lets the copy's pages go: it read ``prepared.data`` for that, which quantised the
whole volume again into a new scratch file (a pass over every voxel, 150 MiB written for a
512x512x300 CT) only to drop its pages. No window here: the loader and its queue alone,
driven as the viewer drives them."""

from __future__ import annotations

import sys
import tempfile

import numpy as np
import pytest

from ownscan.core.assembly import assemble
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.render import prepare_volume
from ownscan.core.render._gpu import DEFAULT_BUDGET, volume_limits
from ownscan.core.render._pages import is_released, load_file_backed, on_disk
from ownscan.core.render._setup import gradient_layout, gradient_texels
from ownscan.core.viewer._loader import SeriesLoader
from ownscan.core.viewer._sources import SeriesEntry
from ownscan.core.volume import SeriesInfo

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="scratch files: Linux")

MAX_TEXTURE = 2048


@pytest.fixture(scope="module")
def series(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("ct")
    # 256x256: 16 slices per slab, so the 40 slices' gradient comes in 3 slabs
    write_ct_series(folder, n_slices=40, rows=256, cols=256, spacing=1.0)
    return assemble(folder).series[0]


def _loader(series) -> SeriesLoader:  # type: ignore[no-untyped-def]
    entry = SeriesEntry("ct", SeriesInfo(series_description="ct"), lambda: load_file_backed(series))
    # a one-byte queue: the loader waits at its second slab until the slabs are taken
    return SeriesLoader(0, entry, MAX_TEXTURE, DEFAULT_BUDGET, gradient=True, queue_bytes=1)


def test_the_copy_forgotten_after_the_upload_is_not_made_again(series):
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")
    job = _loader(series)
    assert job.wait_ready(120) and job.volume is not None
    volume = job.volume
    assert is_released(volume.voxels)  # file-backed, as `ownscan view` loads it
    prepared = prepare_volume(volume, volume_limits(MAX_TEXTURE, volume.shape), DEFAULT_BUDGET)
    assert prepared.materialised  # the loader's copy for the upload (the cache's object)
    job.gradient_queue.wait_full(120)  # it computes the gradient, one slab waiting
    assert not job.done
    prepared.release_data()  # as the viewer does once it has uploaded the volume
    parts = []
    while not job.done:
        job.wait_busy(0.05)
        parts += job.take_gradient()
    parts += job.take_gradient()
    assert job.wait(60) and job.error is None
    assert not prepared.materialised, "the loader quantised the whole volume again"
    # the slabs it made after the copy was forgotten (quantised from the voxels) are the
    # gradient all the same
    assert len(parts) >= 2
    got = np.concatenate([texels for _, texels in parts])
    np.testing.assert_array_equal(got, gradient_texels(prepared.data, gradient_layout(prepared)))


def test_the_gradient_is_read_from_the_copy_not_quantised_again(series, monkeypatch):
    """After the viewer forgets the copy, the loader's gradient slabs still come from it (its
    own reference to the file-backed copy, read with preadv) rather than from
    ``PreparedVolume.slab``, which would quantise each slab of the voxels again (a float32
    temporary per slab in flight, and the CPU of a second quantisation pass)."""
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")
    from ownscan.core.render._setup import PreparedVolume

    asked: list[tuple[int, int]] = []
    slab = PreparedVolume.slab

    def counting(self, k0, k1):  # type: ignore[no-untyped-def]
        asked.append((k0, k1))
        return slab(self, k0, k1)

    monkeypatch.setattr(PreparedVolume, "slab", counting)
    job = _loader(series)
    assert job.wait_ready(120) and job.volume is not None
    volume = job.volume
    prepared = prepare_volume(volume, volume_limits(MAX_TEXTURE, volume.shape), DEFAULT_BUDGET)
    job.gradient_queue.wait_full(120)
    prepared.release_data()  # as the viewer does once it has uploaded the volume
    parts = []
    while not job.done:
        job.wait_busy(0.05)
        parts += job.take_gradient()
    parts += job.take_gradient()
    assert job.wait(60) and job.error is None
    assert asked == [], "the loader quantised slabs of the voxels again"
    got = np.concatenate([texels for _, texels in parts])
    np.testing.assert_array_equal(got, gradient_texels(prepared.data, gradient_layout(prepared)))


def test_the_pages_of_a_held_copy_are_let_go(series):
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")
    volume = load_file_backed(series)
    prepared = prepare_volume(volume, volume_limits(MAX_TEXTURE, volume.shape), DEFAULT_BUDGET)
    prepared.release_data_pages()  # nothing held: nothing made
    assert not prepared.materialised
    before = prepared.data.copy()  # made (the pages it wrote let go behind it)
    prepared.data.sum()  # read through the mapping: its pages are resident now
    prepared.release_data_pages()
    assert prepared.materialised  # still held, its numbers unchanged
    np.testing.assert_array_equal(prepared.data, before)
