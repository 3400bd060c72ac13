"""imgui draws through imgui-bundle's C++ OpenGL 3 renderer (``_imgui_native.py``): the
viewer no longer imports PyOpenGL to draw (its import held some 9 MiB), and glfw's keys reach
imgui as imgui-bundle's Python backend mapped them. Real windows on Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import glfw

from ownscan.core.viewer._imgui_native import _key_map

_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import glfw
    from viewer_phantom import phantom
    from ownscan.core.viewer import Viewer, ViewerOptions
    with Viewer([phantom(n=24)], ViewerOptions(size=(480, 360))) as v:
        v.frame()
        v.on_key(glfw.KEY_LEFT_SHIFT, glfw.PRESS, glfw.MOD_SHIFT)
        v.frame()
        io = v.imgui.get_io()
        shift = bool(io.key_shift)
        loaded = sorted(m for m in sys.modules if m == "OpenGL" or m.startswith("OpenGL."))
        drawn = v.frame(capture=True)
        grey = float(drawn[..., :3].std())
    glfw.terminate()
    print(json.dumps({"before_capture": loaded, "shift": shift, "grey": grey}))
    """
)


def test_the_viewer_draws_its_ui_without_pyopengl_and_imgui_gets_the_keys(xvfb):
    here = str(Path(__file__).parent)
    env = dict(os.environ, DISPLAY=xvfb)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, here], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # PyOpenGL only for the read-back of a screenshot (imported when one is taken)
    assert got["before_capture"] == [], got
    assert got["shift"] is True  # the modifier key reached imgui
    assert got["grey"] > 10  # something was drawn


def test_the_key_map_is_imgui_bundles_own():
    from imgui_bundle import imgui
    from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

    theirs = types.SimpleNamespace()
    GlfwRenderer._map_keys(theirs)  # the Python backend's table, without its window
    assert _key_map(glfw, imgui) == theirs.key_map
