"""The real oblique head MR through ``ownscan serve``: its geometry in the header is the
volume's, the preview level decodes to the block means of ``Library.load_volume``'s voxels and
the wire carries well under half of the raw bytes; the thumbnail shows the head."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from serve_process import ServeProcess, unshuffle

from ownscan.core.library import open_library
from ownscan.core.volume import Volume

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mr(tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path) -> tuple[Path, str, Volume]:
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    lib_path = tmp_path_factory.mktemp("mr") / "library"
    with open_library(lib_path) as lib:
        items = (
            get_host().find_importer(str(mr_head_dir)).iter_items(str(mr_head_dir), ImportOptions())
        )
        assert lib.import_items(items).ok
        (series,) = lib.series()
        return lib_path, series.series_uid, lib.load_volume(series.series_uid)


@pytest.fixture(scope="module")
def server(mr: tuple[Path, str, Volume]) -> Iterator[ServeProcess]:
    s = ServeProcess.start(mr[0])
    yield s
    assert s.stop() == 0, s.log


def test_oblique_geometry_and_preview(server: ServeProcess, mr: tuple[Path, str, Volume]) -> None:
    _, uid, volume = mr
    c = server.client()
    h = c.get(f"/api/series/{uid}").json()
    assert h["shape"] == list(volume.shape) and h["modality"] == "MR"
    np.testing.assert_allclose(h["affine"], volume.affine, atol=1e-9)
    assert (
        abs(np.asarray(h["affine"])[:3, :3] - np.diag(np.diag(volume.affine[:3, :3]))).max() > 0.01
    )  # oblique
    names = {p["name"] for p in h["presets"]}
    assert "mr-default" in names and "ct-bone" not in names  # no HU presets for MR
    level1 = h["levels"][1]
    with c.stream("GET", level1["url"]) as r:
        wire = b"".join(r.iter_raw())
    got = unshuffle(gzip.decompress(wire), h["dtype"], r.headers["x-ownscan-encoding"])
    z, y, x = level1["shape"]
    v = volume.voxels[: 2 * z, : 2 * y, : 2 * x].astype(np.float64)
    expect = np.rint(v.reshape(z, 2, y, 2, x, 2).mean(axis=(1, 3, 5))).astype(volume.voxels.dtype)
    np.testing.assert_array_equal(got.reshape(z, y, x), expect)
    assert len(wire) < 0.5 * got.nbytes


def test_thumbnail_shows_the_head(server: ServeProcess, mr: tuple[Path, str, Volume]) -> None:
    from PIL import Image

    r = server.client().get(f"/api/series/{mr[1]}/thumbnail.png")
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("L")).astype(np.float64)
    assert img.shape == (128, 128)
    centre, corner = img[40:88, 40:88].mean(), img[:16, :16].mean()
    assert centre > 40 and corner < 10 and centre > 4 * corner  # head in the middle, air around
