"""Peak RSS of the whole ``ownscan render`` process grows with the volume by what its textures
need, not by a copy of the volume.

tracemalloc (test_memory.py) sees numpy's allocations only; these tests run the command a user
runs in a child process (the bench's starter: ``wait4`` gives the peak RSS of the command
alone) and compare the peak for a generated 512x512x160 CT (80 MiB of int16) with the peak for
an 8-slice 64x64 CT in the same mode: the difference is what the volume costs, the
interpreter, the GL context and shader compilation cancel out. On llvmpipe the textures are
in host memory: the volume's R16 texture is 1x its bytes, the compact gradient texture (dvr)
its texels times 8 bytes (RGB16 padded to RGBA16). The slack, 0.4x, is well below any whole
copy of the volume: int16 or uint16 (1x), float32 (2x), float64 (4x).

The projection window of a file-backed volume is also checked here: identical numbers to the
strided view it replaced, and without holding the pages of every step-th slice at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ownscan.core import _pixels
from ownscan.core.assembly import assemble
from ownscan.core.bench._ctgen import write_ct_series
from ownscan.core.bench._load import ownscan_command
from ownscan.core.bench._memory import whole_process
from ownscan.core.bench._stages import reset_peak, status_mib
from ownscan.core.render import _autowindow, prepare_volume
from ownscan.core.render._pages import (
    is_released,
    load_file_backed,
    on_disk,
    register_mapping,
    release_pages,
)
from ownscan.core.render._setup import gradient_layout
from ownscan.core.volume import Volume, WindowPreset

SLACK = 0.4  # of the volume's bytes, beyond its textures


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    big = tmp_path_factory.mktemp("ct160")
    write_ct_series(big, n_slices=160, rows=512, cols=512)
    small = tmp_path_factory.mktemp("ct8")
    write_ct_series(small, n_slices=8, rows=64, cols=64)
    return {"big": big, "small": small}


def _scratch_on_disk() -> None:
    if not on_disk(tempfile.gettempdir()):
        pytest.skip("the temporary folder is in memory (tmpfs): volumes load into memory")


def _peak_mib(folder: Path, mode: str, tmp_path: Path) -> float:
    cmd = [*ownscan_command(), "render", str(folder), "-o", str(tmp_path / f"{mode}.png")]
    peak, code, out = whole_process([*cmd, "--mode", mode, "--backend", "gl"], 600.0)
    assert code == 0, out
    return peak


@pytest.mark.parametrize("mode", ["mip", "dvr"])
def test_render_peak_grows_by_the_textures_only(series, gl_check, tmp_path, mode):
    _scratch_on_disk()
    s = assemble(series["big"]).series[0]
    volume = s.load()
    nbytes = volume.voxels.nbytes
    textures = nbytes  # the R16 volume texture (on llvmpipe, in host memory)
    if mode == "dvr":  # the compact gradient: RGB16, padded to 8 bytes a texel by llvmpipe
        layout = gradient_layout(prepare_volume(volume))
        textures += 8 * int(np.prod(layout.texel_dims))
    del volume
    grown = _peak_mib(series["big"], mode, tmp_path) - _peak_mib(series["small"], mode, tmp_path)
    bound = (textures + SLACK * nbytes) / 2**20
    assert grown <= bound, (
        f"{mode}: the 80 MiB volume raised the peak RSS of ownscan render by {grown:.0f} MiB; "
        f"its textures are {textures / 2**20:.0f} MiB (bound {bound:.0f} MiB): a whole copy "
        "of the volume is back on the render path"
    )


def _file_backed(voxels: np.ndarray) -> Volume:
    """``voxels`` in an unnamed scratch file, registered for release_pages, pages dropped."""
    plan = _pixels.DecodePlan(voxels.dtype, voxels.shape, False, False, 0)
    with tempfile.TemporaryFile() as f:  # the mapping keeps the unnamed file
        arr = _pixels.map_file(f.fileno(), 0, plan)
    arr[...] = voxels
    assert register_mapping(arr)
    release_pages(arr)
    return Volume(voxels=arr, spacing=(1.0, 1.0, 1.0))


def _strided_window(volume: Volume, how: str) -> WindowPreset:
    """The projection window as computed before: through a strided view of the whole volume
    (what the function still does for a volume in memory; a copy, not cached)."""
    return _autowindow.projection_window(Volume(voxels=np.array(volume.voxels)), how)


@pytest.mark.parametrize("shape", [(7, 9, 11), (97, 400, 390), (401, 385, 97), (300, 200, 190)])
@pytest.mark.parametrize("how", ["maximum", "average"])
def test_projection_window_is_the_strided_views(shape, how):
    rng = np.random.default_rng(sum(shape))
    voxels = rng.normal(100, 400, shape).astype(np.int16)
    volume = _file_backed(voxels)  # gathered a few slices at a time
    assert _autowindow.projection_window(volume, how) == _strided_window(volume, how)
    assert _autowindow.projection_window(volume, how) == _strided_window(volume, how)  # kept


def test_projection_window_of_the_real_mr(mr_head_dir):
    _scratch_on_disk()
    volume = load_file_backed(max(assemble(mr_head_dir).series, key=lambda s: s.n_volumes))
    for how in ("maximum", "average"):
        assert _autowindow.projection_window(volume, how) == _strided_window(volume, how)


def _rss_file_peak(run: Any) -> float:
    """MiB the peak RSS rose while ``run()`` ran (Linux: VmHWM started again before)."""
    if not reset_peak():
        pytest.skip("no /proc/self/clear_refs: the peak cannot be started again")
    before = status_mib()["VmRSS"]
    run()
    return status_mib()["VmHWM"] - before


def test_projection_window_holds_a_few_slices_of_a_file_backed_volume():
    _scratch_on_disk()
    volume = _file_backed(np.random.default_rng(3).integers(-1000, 2000, (384, 256, 256), np.int16))
    nbytes = volume.voxels.nbytes  # 48 MiB, every 4th slice read
    held = _rss_file_peak(lambda: _strided_window(volume, "average"))  # the view, at once
    release_pages(volume.voxels)
    rose = _rss_file_peak(lambda: _autowindow.projection_window(volume, "average"))
    assert rose < 0.12 * nbytes / 2**20 and rose < held / 2, (
        f"{rose:.1f} MiB for a {nbytes / 2**20:.0f} MiB volume (the whole strided view: "
        f"{held:.1f} MiB)"
    )


def test_quantised_copy_of_a_file_backed_volume_is_not_resident():
    """The viewer's whole quantised copy (``PreparedVolume.data``) of a file-backed volume is
    file-backed too, its pages let go as it is written: the same numbers as in memory."""
    _scratch_on_disk()
    voxels = np.random.default_rng(4).integers(-1000, 3000, (256, 256, 256), np.int16)
    in_memory = prepare_volume(Volume(voxels=voxels, spacing=(1.0, 1.0, 1.0))).data
    prepared = prepare_volume(_file_backed(voxels))
    rose = _rss_file_peak(lambda: prepared.data)
    data = prepared.data
    assert is_released(data)  # a view of a registered file mapping
    assert rose < 0.25 * data.nbytes / 2**20, f"{rose:.1f} MiB for {data.nbytes >> 20} MiB"
    np.testing.assert_array_equal(data, in_memory)
    # a slab of a file-backed volume (no whole copy made) is quantised in memory, never into
    # a scratch file of its own
    fresh = prepare_volume(_file_backed(voxels[:16]))
    assert not fresh.materialised and not is_released(fresh.slab(0, 8))
