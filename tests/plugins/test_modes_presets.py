"""The built-in mode and preset plugins, and a third-party mode installed through the hook."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from band_mode import band_mode
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


# -- a mode that stands alone: its own parameters, its own skip rule, GL only -------------------
class BandPlugin:
    @hookimpl
    def ownscan_modes(self):
        return [band_mode()]


def test_a_gl_only_mode_with_its_own_parameters_and_skip_rule(gl_renderer, gl_check):
    from dataclasses import replace

    from ownscan.core.render import frame_for, prepare_volume

    host = PluginHost(extra_plugins=[("band", BandPlugin())])
    assert not host.broken
    band = host.mode("band")
    vol = ct_phantom((40, 48, 48), (0.9, 0.8, 1.3))
    window = WindowPreset("w", 400, 40)
    cam = Camera(azimuth=30, elevation=15)
    scene = Scene(vol, band, window=window, parameters={"gain": 0.75})
    img = gl_renderer.render(scene, cam, (64, 56))
    hit = img[..., 3] == 255
    assert 0.05 < hit.mean() < 0.95 and set(np.unique(img[..., 3])) == {0, 255}
    # the parameters reached the shader as u_<name>: gain as given, low normalised
    prepared = prepare_volume(vol)
    low = prepared.normalise(300.0)
    assert np.all(img[hit][:, 0] == round(0.75 * 255))
    assert np.all(img[hit][:, 1] == round(low * 255))
    assert np.all(img[hit][:, 2] == round(0.25 * 255)) and not img[~hit].any()
    # with the band reaching past every value it is the built-in iso surface's silhouette
    # (sampled on the same grid: iso's jittered ray starts off)
    iso_mode = replace(host.mode("iso"), jitter=False)
    iso = Scene(vol, iso_mode, window=window, parameters={"iso_value": 300.0})
    assert np.array_equal(hit, gl_renderer.render(iso, cam, (64, 56))[..., 3] == 255)
    # the mode's skip rule was used (bricks out of the band) and changes nothing
    narrow = replace(scene, parameters={"low": 600.0, "high": 1100.0})  # bone, partial voxels
    frame = frame_for(prepared, narrow, cam, (64, 56))
    assert frame.occupancy is not None and 0 < frame.occupancy.mean() < 1
    plain = replace(narrow, mode=replace(band, skip=None))
    a = gl_renderer.render(narrow, cam, (64, 56))
    assert np.array_equal(a, gl_renderer.render(plain, cam, (64, 56)))
    assert 0 < (a[..., 3] == 255).sum() < hit.sum()  # a narrower band hits less


def test_the_array_renderer_says_it_cannot_draw_a_gl_only_mode(
    tmp_path, monkeypatch, capsys, array_renderer
):
    from ownscan.core import plugin_host
    from ownscan.core.cli import main
    from ownscan.core.errors import OwnscanError

    scene = Scene(ct_phantom((24, 24, 24), (1.0, 1.0, 1.0)), band_mode())
    with pytest.raises(OwnscanError, match="mode 'band' draws only with OpenGL"):
        array_renderer.render(scene, Camera(), (16, 16))
    monkeypatch.setattr(plugin_host, "_HOST", PluginHost(extra_plugins=[("band", BandPlugin())]))
    out = tmp_path / "band.png"
    argv = ["render", "--phantom", "--mode", "band", "--backend", "cpu", "-o", str(out)]
    assert main([*argv, "--param", "gain=0.5"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "ownscan render: error: mode 'band' draws only with OpenGL (it has no array "
        "implementation); the cpu renderer cannot draw it: use --backend gl\n"
    )
    assert not out.exists()
    assert main([*argv[:-4], "--backend", "gl", "-o", str(out), "--param", "nope=1"]) == 2
    assert "mode 'band' has no parameter(s) ['nope']" in capsys.readouterr().err
