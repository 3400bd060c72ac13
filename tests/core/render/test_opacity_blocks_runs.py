"""The opacity skip rule's blocks (``_scene._opacity_blocks``) are taken a run of blocks at a
time (the whole table's int64 temporaries were the viewer's peak at its first 3D picture):
the answer must be the whole-table formula's, block by block, across run boundaries."""

from __future__ import annotations

import numpy as np

from ownscan.core.render import _scene


def _whole_table(block_min: np.ndarray, block_max: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """The rule as one expression over the whole table (what it was before the runs)."""
    positive = np.concatenate([[0], np.cumsum(lut[:, 3] > 0)])
    a = np.clip(np.floor(block_min * 255.0).astype(np.int64), 0, 255)
    b = np.clip(np.ceil(block_max * 255.0).astype(np.int64), 0, 255)
    return (positive[b + 1] - positive[a]) > 0


def test_runs_give_the_whole_tables_answer_across_run_boundaries():
    rng = np.random.default_rng(7)
    shape = (5, 97, 301)  # 145,985 blocks: two whole runs and a partial one
    assert np.prod(shape) > 2 * _scene._BLOCK_RUN
    lo = rng.random(shape, dtype=np.float32) * 0.9
    hi = np.minimum(lo + rng.random(shape, dtype=np.float32) * 0.1, np.float32(1.0))
    # table edges exactly on the 1/255 steps, and the extremes
    lo.flat[:6] = np.float32([0.0, 1.0, 100 / 255, 101 / 255, 0.5, 1.0])
    hi.flat[:6] = np.float32([0.0, 1.0, 100 / 255, 101 / 255, 0.5, 1.0])
    lut = np.zeros((256, 4), np.float32)
    lut[101:140, 3] = 0.25  # a visible band
    lut[255, 3] = 1.0  # and the top entry alone
    got = _scene._opacity_blocks(lo, hi, lut, {})
    want = _whole_table(lo, hi, lut)
    assert got.shape == shape and got.dtype == bool
    np.testing.assert_array_equal(got, want)
    assert 0 < want.sum() < want.size  # both answers occur
    assert _scene._opacity_blocks(lo, hi, None, {}) is None
