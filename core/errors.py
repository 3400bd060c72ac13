"""Exceptions that callers catch. Each carries the file (or source) and the reason."""

from __future__ import annotations

import os

__all__ = [
    "ImportFailed",
    "NoImporter",
    "OwnscanError",
    "UnsupportedTransferSyntax",
]


class OwnscanError(Exception):
    """Base of the errors the CLI turns into one clear line (no traceback)."""


class ImportFailed(OwnscanError):
    """An importer accepted a source but could not read it."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NoImporter(OwnscanError):
    """No installed importer claims a source."""

    def __init__(self, source: str, installed: list[str]) -> None:
        names = ", ".join(installed) or "none"
        if "://" not in source and not os.path.lexists(source):
            hint = "no such file or folder; check the path"
        else:
            hint = "check the path or URL, or install an importer plugin for it"
        super().__init__(
            f"{source}: no importer claims this source (installed importers: {names}); {hint}"
        )
        self.source = source
        self.installed = installed


class UnsupportedTransferSyntax(OwnscanError):
    """Pixel data in a transfer syntax that no installed decoder handles."""

    def __init__(self, filename: str, syntax: str, install_hint: str) -> None:
        super().__init__(f"{filename}: cannot decode transfer syntax {syntax}; {install_hint}")
        self.filename = filename
        self.syntax = syntax
