"""The opacity skip rule's brick test (``_scene._opacity_blocks``) in small integer types:
the same bricks as the plain definition (any table entry from floor(min * 255) to
ceil(max * 255), clamped, has opacity), at the range's ends and for random tables."""

from __future__ import annotations

import numpy as np
import pytest

from ownscan.core.render._scene import _opacity_blocks


def _plain(block_min: np.ndarray, block_max: np.ndarray, lut: np.ndarray) -> np.ndarray:
    lo = np.clip(np.floor(block_min.astype(np.float64) * 255), 0, 255).astype(int)
    hi = np.clip(np.ceil(block_max.astype(np.float64) * 255), 0, 255).astype(int)
    seen = lut[:, 3] > 0
    return np.array([seen[a : b + 1].any() for a, b in zip(lo.ravel(), hi.ravel(), strict=True)])


@pytest.mark.parametrize("seed", range(6))
def test_the_bricks_that_may_be_seen_are_the_plain_ones(seed):
    rng = np.random.default_rng(seed)
    q0 = rng.integers(0, 65536, size=(6, 7, 8)).astype(np.uint16)
    q1 = np.maximum(q0, rng.integers(0, 65536, size=q0.shape).astype(np.uint16))
    q0.flat[:4], q1.flat[:4] = [0, 0, 65535, 257], [0, 65535, 65535, 258]
    block_min = q0.astype(np.float32) / np.float32(65535)
    block_max = q1.astype(np.float32) / np.float32(65535)
    lut = np.zeros((256, 4), np.float32)
    lut[rng.integers(0, 256, size=seed * 3), 3] = 0.25  # none, then a few opaque entries
    if seed == 5:
        lut[255, 3] = lut[0, 3] = 1.0  # both ends
    got = _opacity_blocks(block_min, block_max, lut, {})
    assert got.shape == block_min.shape and got.dtype == bool
    np.testing.assert_array_equal(got.ravel(), _plain(block_min, block_max, lut))
    assert _opacity_blocks(block_min, block_max, None, {}) is None
