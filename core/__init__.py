"""ownscan's core: the Volume, series assembly, the plugin host and the renderer interfaces.

Heavy modules are imported lazily (PEP 562) so that ``import ownscan.core`` and the command
line start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time the names load lazily (below)
    from ownscan.core.errors import (
        ImportFailed,
        NoImporter,
        OwnscanError,
        UnsupportedTransferSyntax,
    )
    from ownscan.core.hookspecs import hookimpl
    from ownscan.core.plugin_host import PluginHost, get_host
    from ownscan.core.plugin_types import ImportOptions, SourceItem
    from ownscan.core.volume import Dimension, SeriesInfo, Volume, WindowPreset

__all__ = [
    "Assembly",
    "Dimension",
    "ImportFailed",
    "ImportOptions",
    "NoImporter",
    "OwnscanError",
    "PluginHost",
    "Problem",
    "Series",
    "SeriesInfo",
    "SourceItem",
    "UnsupportedTransferSyntax",
    "Volume",
    "WindowPreset",
    "assemble",
    "get_host",
    "hookimpl",
    "load_volume",
    "sample_path",
]

_LAZY = {
    "Assembly": "ownscan.core.assembly",
    "Problem": "ownscan.core.assembly",
    "Series": "ownscan.core.assembly",
    "assemble": "ownscan.core.assembly",
    "load_volume": "ownscan.core.assembly",
    "sample_path": "ownscan.core._sample",
    "Volume": "ownscan.core.volume",
    "Dimension": "ownscan.core.volume",
    "SeriesInfo": "ownscan.core.volume",
    "WindowPreset": "ownscan.core.volume",
    "SourceItem": "ownscan.core.plugin_types",
    "ImportOptions": "ownscan.core.plugin_types",
    "PluginHost": "ownscan.core.plugin_host",
    "get_host": "ownscan.core.plugin_host",
    "hookimpl": "ownscan.core.hookspecs",
    "OwnscanError": "ownscan.core.errors",
    "ImportFailed": "ownscan.core.errors",
    "NoImporter": "ownscan.core.errors",
    "UnsupportedTransferSyntax": "ownscan.core.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
