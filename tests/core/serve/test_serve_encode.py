"""The voxel encoding of ``ownscan serve`` on its own: shuffled gzip pieces compressed in
parallel must inflate (with any gzip reader) to exactly the voxels; the preview level is the
mean of whole 2x2x2 blocks and its affine places each preview voxel at their centre."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest
from serve_process import unshuffle

from ownscan.core.serve import downsample2, encoded_chunks, encoding_of, level_affine
from ownscan.core.serve._encode import preview_shape


@pytest.mark.parametrize(
    "dtype,shape",
    [
        ("int16", (7, 33, 65)),
        ("uint16", (1, 40, 30)),
        ("float32", (5, 9, 11)),
        ("uint8", (3, 10, 12, 3)),
        ("int16", (0, 4, 4)),
    ],
    ids=["int16", "uint16-2d", "float32", "rgb", "empty"],
)
def test_stream_inflates_to_the_voxels(dtype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    voxels = (rng.normal(0, 900, size=shape)).astype(dtype)
    # small pieces and three threads: many independently compressed pieces in one stream
    wire = b"".join(encoded_chunks(voxels, chunk=1000, workers=3))
    for inflate in (gzip.decompress, lambda b: zlib.decompressobj(31).decompress(b)):
        raw = inflate(wire)
        got = unshuffle(raw, dtype, encoding_of(voxels.dtype))
        np.testing.assert_array_equal(got.reshape(shape), voxels)


def test_shuffle_is_low_bytes_first() -> None:
    voxels = np.array([0x0102, 0x0304, -2], dtype=np.int16)
    raw = gzip.decompress(b"".join(encoded_chunks(voxels)))
    assert raw == bytes([0x02, 0x04, 0xFE, 0x01, 0x03, 0xFF])


@pytest.mark.parametrize("shape", [(9, 7, 5), (1, 6, 8), (4, 4, 4, 3)], ids=["odd", "2d", "rgb"])
def test_preview_is_the_mean_of_whole_blocks(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    dtype = np.uint8 if len(shape) == 4 else np.int16
    v = rng.integers(0, 250, size=shape).astype(dtype)
    p = downsample2(v)
    assert list(p.shape) == preview_shape(v.shape) and p.dtype == v.dtype
    f = [2 if n >= 2 else 1 for n in shape[:3]]
    for idx in [(0, 0, 0), tuple(n - 1 for n in p.shape[:3])]:
        block = v[tuple(slice(i * fi, i * fi + fi) for i, fi in zip(idx, f, strict=True))]
        expect = np.rint(block.reshape(-1, *shape[3:]).astype(np.float64).mean(axis=0))
        np.testing.assert_array_equal(p[idx], expect.astype(dtype))
    # preview voxel (i, j, k) sits at the centre of the full voxels it averages
    affine = np.array([[0.7, 0.1, 0, -20], [0, 0.8, 0.2, 5], [0.1, 0, 2.5, 90], [0, 0, 0, 1]])
    a1 = level_affine(affine, v.shape)
    fi, fj, fk = f[2], f[1], f[0]
    corners = [[i, j, k, 1] for i in range(fi) for j in range(fj) for k in range(fk)]
    centre = (affine @ np.array(corners, float).T).T.mean(axis=0)
    np.testing.assert_allclose(a1 @ [0, 0, 0, 1], centre)
    np.testing.assert_allclose(a1 @ [1, 0, 0, 1] - a1 @ [0, 0, 0, 1], affine[:, 0] * fi)
