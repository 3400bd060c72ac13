"""The page (``ownscan serve``'s API) shows the 2D pictures that share a Series Instance UID
with a 3D stack (a secondary capture, a scout) as stacks of their own, after the 3D stack:
``UID~2`` and ``UID~3``, named for what they are, with their own voxels. They used to be left
out (the page listed only the 3D stacks)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from beside_gen import write_volume_with_pictures
from serve_process import ServeProcess, unshuffle

from ownscan.core.assembly import assemble
from ownscan.core.library import open_library
from ownscan.core.plugin_host import get_host
from ownscan.core.plugin_types import ImportOptions


def test_the_page_lists_the_pictures_beside_the_stack(tmp_path: Path) -> None:
    uid = write_volume_with_pictures(tmp_path / "in")
    with open_library(tmp_path / "lib") as lib:
        imp = get_host().find_importer(str(tmp_path / "in"))
        assert lib.import_items(imp.iter_items(str(tmp_path / "in"), ImportOptions())).ok
    by_kind = {s.kind: s for s in assemble(tmp_path / "in").series}
    server = ServeProcess.start(tmp_path / "lib")
    try:
        c = server.client()
        h = c.get(f"/api/series/{uid}").json()
        assert [s["id"] for s in h["stacks"]] == [f"{uid}~{n}" for n in (1, 2, 3)]
        labels = [s["label"] for s in h["stacks"]]
        assert labels[0].startswith("stack 1 of 3, axial, 6 images"), labels
        assert labels[1:] == ["stack 2 of 3, image, 1 image", "stack 3 of 3, localizer, 1 image"]
        for n, kind in ((2, "image"), (3, "localizer")):
            one = c.get(f"/api/series/{uid}~{n}").json()
            level0 = one["levels"][0]
            with c.stream("GET", level0["url"]) as resp:
                assert resp.status_code == 200
                wire = b"".join(resp.iter_raw())
                enc = resp.headers["x-ownscan-encoding"]
            got = unshuffle(gzip.decompress(wire), one["dtype"], enc).reshape(level0["shape"])
            np.testing.assert_array_equal(got, by_kind[kind].load().voxels)
    finally:
        assert server.stop() == 0, server.log
