"""Exceptions that callers catch. Each carries the file (or source) and the reason.

Every exception ownscan raises on purpose derives from :class:`OwnscanError`: the command line
shows it as one line and exits with status 2. Anything else that reaches the command line
(a plain ``ValueError`` from numpy, a ``KeyError``...) is a bug and says so (status 70).
"""

from __future__ import annotations

import os

__all__ = [
    "ImportFailed",
    "NoImporter",
    "NotDicom",
    "OwnscanError",
    "ReadProblem",
    "UnsupportedTransferSyntax",
    "UsageError",
]


class OwnscanError(Exception):
    """Base of the errors the CLI turns into one clear line (no traceback)."""


class UsageError(OwnscanError, ValueError):
    """A value the user (or a caller of the API) gave is not acceptable: a bad option, an
    unknown name, a parameter out of range. The message says which and what is valid.

    It is also a ``ValueError``, so code that validated arguments with ``ValueError`` before
    keeps catching it; but only this class, not every ``ValueError``, is a user error to the
    command line.
    """


class NotDicom(OwnscanError):
    """An item is not a DICOM image (not DICOM at all, a DICOMDIR, or DICOM without pixel
    data); the message says which. Importers and assembly skip such items, they do not fail."""


class ReadProblem(OwnscanError):
    """An item is DICOM but cannot be used (damaged, truncated, inconsistent, lacking a UID it
    must have); the message says why. The item fails; nothing else is lost."""


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
            # the likely mistake first: a typo in a path, not a missing plugin
            message = f"no such file or folder: {source}"
        elif "://" not in source and not os.path.exists(source):
            # a symbolic link to nothing, or links that lead back to themselves
            try:
                os.stat(source)
                why = "cannot be reached"
            except OSError as exc:
                why = exc.strerror or str(exc)
            message = f"{source}: a link that leads to no file ({why})"
        else:
            message = (
                f"{source}: no importer claims this source (installed importers: {names}); "
                "check the path or URL, or install an importer plugin for it"
            )
        super().__init__(message)
        self.source = source
        self.installed = installed


class UnsupportedTransferSyntax(OwnscanError):
    """Pixel data in a transfer syntax that no installed decoder handles."""

    def __init__(self, filename: str, syntax: str, install_hint: str) -> None:
        super().__init__(f"{filename}: cannot decode transfer syntax {syntax}; {install_hint}")
        self.filename = filename
        self.syntax = syntax
