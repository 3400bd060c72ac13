"""The viewer loads imgui-bundle's native imgui module without the package's Python
``__init__`` (``_window._native_imgui``): the helpers of the bundle's other libraries (immapp
and its asyncio runner, notebook patches) held about 11.5 MiB of the viewer's resident memory
and are never used. Each check runs in a fresh interpreter (pytest's may have imported the
package already)."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
from ownscan.core.viewer import _window
imgui = _window._native_imgui()
after = {
    "stand_in_left": "imgui_bundle" in sys.modules,
    "helpers": sorted(m for m in sys.modules if m.startswith(("imgui_bundle.immapp", "asyncio"))),
    "context": bool(imgui.create_context()),
    "fonts": (_window._bundle_folder() / "assets/fonts/Roboto/Roboto-Regular.ttf").is_file(),
}
from imgui_bundle import imgui as whole  # the package as a plugin or a test imports it
import imgui_bundle
after["same"] = whole is imgui
after["package_whole"] = hasattr(imgui_bundle, "imgui_ctx")
after["again_same"] = _window._native_imgui() is imgui
print(json.dumps(after))
"""


def test_imgui_alone_leaves_the_package_importable_as_a_whole():
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {
        "stand_in_left": False,  # the stand-in for the package is gone again
        "helpers": [],  # none of the package's Python helpers was imported
        "context": True,  # the native module works
        "fonts": True,  # the fonts are found without the package
        "same": True,  # a later import of the package gives the same module
        "package_whole": True,  # ... and runs its whole __init__
        "again_same": True,  # and a viewer opened after that uses it
    }
