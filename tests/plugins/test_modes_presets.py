"""The built-in mode and preset plugins, and a third-party mode installed through the hook."""

from __future__ import annotations

import sys

import pytest
from gl_support import assert_same_picture

from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_host import PluginHost
from ownscan.core.render import Camera, Scene, VisualisationMode
from ownscan.core.render.phantom import ct_phantom
from ownscan.core.volume import WindowPreset


def test_builtin_modes_and_presets_come_through_the_hooks():
    host = PluginHost()
    assert [m.name for m in host.modes()] == ["mpr", "mip", "minip", "xray", "dvr", "iso"]
    tfs = {t.name for t in host.transfer_functions()}
    assert {"ct-bone", "ct-soft-tissue", "ct-lung", "ct-vessels", "mr-default"} <= tfs
    windows = {w.name: w for w in host.window_presets()}
    assert set(windows) >= {"brain", "lung", "bone", "abdomen", "mediastinum"}
    assert (windows["lung"].width, windows["lung"].level) == (1500.0, -600.0)
    for tf in host.transfer_functions():  # every preset makes a valid table over CT values
        lut = tf.lut(-1024, 3071, WindowPreset("w", 400, 40))
        assert lut.shape == (256, 4) and lut.min() >= 0 and lut.max() <= 1


THIRD_PARTY_GLSL = """
// depth: how far into the volume the first voxel above the window's low end is (grey, near bright)
void mode_begin(inout vec4 acc, inout vec4 aux) { acc = vec4(0.0); aux = vec4(0.0); }
bool mode_sample(inout vec4 acc, inout vec4 aux, vec3 pos_tex) {
    acc.y += 1.0;
    if (sample_volume(pos_tex) >= u_window.x) { acc.x = 1.0; return true; }
    return false;
}
vec4 mode_end(vec4 acc, vec4 aux, bool hit) {
    if (acc.x == 0.0) { return vec4(0.0); }
    float g = clamp(1.0 - acc.y * u_step_mm / 400.0, 0.0, 1.0);
    return vec4(g, g, g, 1.0);
}
"""


THIRD_PARTY_MODULE = f"""
import numpy as np
from ownscan.core.hookspecs import hookimpl
from ownscan.core.render import VisualisationMode

GLSL = {THIRD_PARTY_GLSL!r}


class DepthArray:
    def begin(self, acc, aux):
        acc[:] = 0
        aux[:] = 0

    def sample(self, acc, aux, idx, pos_tex, ctx):
        acc[idx, 1] += 1
        over = ctx.sample(pos_tex) >= np.float32(ctx.window[0])
        acc[idx[over], 0] = 1
        return over

    def end(self, acc, aux, hit, ctx):
        g = np.clip(1 - acc[:, 1] * ctx.step_mm / np.float32(400.0), 0, 1)
        out = np.zeros((len(g), 4), np.float32)
        out[:, :3] = g[:, None]
        out[:, 3] = 1
        out[acc[:, 0] == 0] = 0
        return out


@hookimpl
def ownscan_modes():
    return [VisualisationMode("depth", "depth of the first hit", GLSL, DepthArray())]
"""


@pytest.fixture
def installed_third_party(tmp_path, monkeypatch):
    """A distribution ``ownscan-depth`` with an ``ownscan`` entry point, as pip installs it."""
    (tmp_path / "ownscan_depth_mode.py").write_text(THIRD_PARTY_MODULE)
    info = tmp_path / "ownscan_depth-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ownscan-depth\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ownscan]\ndepth = ownscan_depth_mode\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("ownscan_depth_mode", None)


def test_a_third_party_mode_installs_like_any_plugin(
    installed_third_party, gl_renderer, array_renderer, gl_check, tmp_path
):
    host = PluginHost()  # discovered from the entry point, nothing else
    info = {p.name: p for p in host.plugins}["depth"]
    assert info.distribution == "ownscan-depth" and not info.builtin
    mode = host.mode("depth")
    scene = Scene(
        ct_phantom((40, 48, 48), (7.0, 5.0, 9.0)), mode, window=WindowPreset("w", 200, 200)
    )
    cam = Camera(azimuth=25, elevation=10)
    a = gl_renderer.render(scene, cam, (96, 96))
    b = array_renderer.render(scene, cam, (96, 96))
    assert a[..., 0].std() > 5
    assert_same_picture(a, b, tmp_path, "third-party-depth")


def test_a_mode_clashing_with_a_builtin_is_set_aside():
    class Clash:
        @hookimpl
        def ownscan_modes(self):
            return [VisualisationMode("mip", "again", THIRD_PARTY_GLSL, object())]

    host = PluginHost(extra_plugins=[("clash", Clash())])
    mips = [m for m in host.modes() if m.name == "mip"]
    assert len(mips) == 1 and mips[0].description.startswith("maximum intensity")
    broken = {b.name: b.reason for b in host.broken}
    assert "clash" in broken and "'mip' clashes" in broken["clash"]


def test_loading_the_plugin_host_imports_neither_numpy_nor_the_renderer():
    """Every command loads the host; the mode and preset plugins must not make the commands
    that never draw (import, list, check, search) pay for numpy and the renderer."""
    import subprocess

    code = (
        "import sys\n"
        "from ownscan.core.plugin_host import PluginHost\n"
        "host = PluginHost()\n"
        "assert host.importers(), 'no importers'\n"
        "heavy = sorted(m for m in ('numpy', 'ownscan.core.render', 'pydicom', 'moderngl')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout
    from ownscan.plugins import presets

    assert [w.name for w in presets.WINDOW_PRESETS][:2] == ["brain", "lung"]
    assert "ct-bone" in {t.name for t in presets.TRANSFER_FUNCTIONS}
