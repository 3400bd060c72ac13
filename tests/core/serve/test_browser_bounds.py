"""The page walks MIP / MinIP rays brick by brick over the desktop's bricks: ``pooledBounds``
(static/skip.js, run in Chromium from the real server) gives, float for float, the bound table
of ``pooled_bounds`` (core/render/_setup.py) for block tables of whole and partial bricks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from browser_support import sign_in

from ownscan.core.render._setup import pooled_bounds

# block-table shapes (nz, ny, nx): whole bricks, partial bricks at the far ends, a single block
SHAPES = [(8, 4, 12), (5, 6, 7), (1, 1, 1), (3, 9, 4)]

POOLED = """async (cases) => {
    const { pooledBounds } = await import('/static/skip.js');
    return cases.map(([table, shape, largest]) => {
        const out = pooledBounds(Float32Array.from(table), shape, largest);
        return [out.shape, Array.from(out.data)];
    });
}"""


@pytest.mark.parametrize("largest", [True, False], ids=["maximum", "minimum"])
def test_the_pages_pooled_bounds_are_the_desktops(served: Any, desktop: Any, largest: bool):
    sign_in(desktop, served)
    rng = np.random.default_rng(7)
    tables = [rng.random(shape, dtype=np.float32) for shape in SHAPES]
    cases = [[t.ravel().tolist(), list(t.shape), largest] for t in tables]
    got = desktop.evaluate(POOLED, cases)
    for table, (shape, data) in zip(tables, got, strict=True):
        want = pooled_bounds(table, largest)
        assert list(shape) == list(want.shape)
        np.testing.assert_array_equal(np.asarray(data, np.float32).reshape(want.shape), want)
