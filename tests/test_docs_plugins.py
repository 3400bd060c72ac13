"""The code in docs/PLUGINS.md runs: its importer, exporter and preset plugins work as shown."""

from __future__ import annotations

import gzip
import re
import types
from pathlib import Path

import numpy as np
import pytest

from ownscan.core.plugin_host import PluginHost
from ownscan.core.plugin_types import ImportOptions
from ownscan.core.volume import Volume

DOC = Path(__file__).resolve().parents[1] / "docs" / "PLUGINS.md"


def _plugin_from_doc(marker: str) -> types.ModuleType:
    """Execute the one ```python block of the guide that contains ``marker`` as a module."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} blocks with {marker!r} in {DOC}"
    module = types.ModuleType(f"doc_plugin_{marker.lower()}")
    exec(compile(blocks[0], f"{DOC}:{marker}", "exec"), module.__dict__)
    return module


def test_importer_example(tmp_path: Path, mr_head_dir: Path) -> None:
    plugin = _plugin_from_doc("class GzipFolderImporter")
    host = PluginHost(extra_plugins=[("doc-importer", plugin)])
    first = sorted(mr_head_dir.glob("*.dcm"))[0]
    (tmp_path / "a.dcm.gz").write_bytes(gzip.compress(first.read_bytes()))
    (tmp_path / "b.dcm.gz").write_bytes(b"not gzip")
    imp = host.find_importer(str(tmp_path))
    assert imp.name == "dcmgz" and not host.broken
    a, b = imp.iter_items(str(tmp_path), ImportOptions())
    assert a.data == first.read_bytes() and a.problem is None
    assert b.origin == str(tmp_path / "b.dcm.gz") and "not valid gzip" in str(b.problem)


def test_exporter_example(tmp_path: Path) -> None:
    plugin = _plugin_from_doc("class NpzExporter")
    host = PluginHost(extra_plugins=[("doc-exporter", plugin)])
    vol = Volume(
        voxels=np.arange(24, dtype=np.int16).reshape(2, 3, 4),
        spacing=(0.5, 0.7, 2.0),
        origin=(-10.0, 20.0, 30.0),
        modality="CT",
    )
    (path,) = host.exporter("npz").export([vol], tmp_path / "out", {})
    with np.load(path) as saved:
        assert np.array_equal(saved["voxels"], vol.voxels)
        assert np.allclose(saved["affine_lps"], vol.affine)
        assert saved["affine_lps"][0, 3] == pytest.approx(-10.0)


def test_window_preset_example() -> None:
    plugin = _plugin_from_doc("def ownscan_window_presets")
    host = PluginHost(extra_plugins=[("doc-presets", plugin)])
    (preset,) = [p for p in host.window_presets() if p.name == "temporal bone"]
    assert (preset.width, preset.level) == (4000, 700)


def test_addoption_example() -> None:
    import argparse

    from ownscan.core.plugin_host import plugin_options

    plugin = _plugin_from_doc("def ownscan_addoption")
    host = PluginHost(extra_plugins=[("doc-options", plugin)])
    parser = argparse.ArgumentParser()
    host.add_options(parser, "info")
    args = parser.parse_args(["--tar-max-member-bytes", "1000"])
    assert plugin_options(args) == {"tar_max_member_bytes": 1000} and not host.broken
