"""What the viewer keeps of a series once it is shown: the GPU's copies, not the host's.

A series read from files goes into a scratch file whose pages the render path gives back; the
loader streams the gradient slab by slab into the texture; after the upload the quantised
host copy is released. The pictures come from the same numbers (the GL textures are compared
with what the renderer computes itself)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ownscan.core.assembly import assemble
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.render._pages import on_disk, register_mapping
from ownscan.core.render._setup import gradient_layout, gradient_texels
from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_assembly


def test_a_shown_series_lives_in_gpu_textures(xvfb: str, tmp_path: Path) -> None:
    write_ct_series(tmp_path / "ct", n_slices=30, rows=64, cols=72)
    entries = entries_from_assembly(assemble(tmp_path / "ct"))
    with Viewer(entries, ViewerOptions(size=(640, 480))) as v:
        assert v.mode == "dvr"  # shaded: the loader computes the gradient
        v.wait_until_loaded(timeout=120)
        shot = v.frame(capture=True)
        gpu = v._gpu_volume
        prep = gpu.prepared
        assert prep is not None and not prep.materialised  # released after the upload
        # the voxels in the scratch file (in memory where the temporary folder is tmpfs)
        assert register_mapping(v.view.volume.voxels) == on_disk(tempfile.gettempdir())
        grads = gpu._gradients
        assert grads, "the streamed gradient was not completed"
        want = gradient_texels(prep.data, gradient_layout(prep))  # again from the file's voxels
        assert [t.read(alignment=1) for t in grads] == [want.tobytes()]
        r = v.layout().views["3d"]
        assert shot[r.y + 40 : r.y + r.h - 40, r.x + 40 : r.x + r.w - 40].std() > 10
