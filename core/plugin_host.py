"""The plugin host: the one object that owns pluggy.

Loading order (nothing is loaded at import time):

1. every entry point in the ``ownscan`` group, the built-ins of our own distribution first
   (they are registered exactly as a third party's plugins are, from our pyproject.toml);
2. names listed in ``OWNSCAN_DISABLE_PLUGINS`` (comma separated entry-point names) are skipped;
3. ``check_pending()`` so that a misspelt hook name fails loudly.

A third-party plugin that fails to import, or raises while registering or answering a hook, is
recorded in :attr:`PluginHost.broken` with the reason and skipped: one bad plugin never stops
ownscan. A broken built-in is a bug in ownscan and raises.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from ownscan.core import hookspecs
from ownscan.core.errors import NoImporter, OwnscanError

if TYPE_CHECKING:
    from ownscan.core.plugin_types import Exporter, Importer
    from ownscan.core.render import TransferFunction, VisualisationMode
    from ownscan.core.volume import WindowPreset

__all__ = ["BrokenPlugin", "PluginHost", "PluginInfo", "get_host"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ownscan"
DISABLE_ENV = "OWNSCAN_DISABLE_PLUGINS"
BUILTIN_DISTRIBUTION = "ownscan"

T = TypeVar("T")


@dataclass
class PluginInfo:
    """A loaded plugin: where it came from and what it contributes."""

    name: str
    distribution: str
    version: str
    builtin: bool
    module: object
    contributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokenPlugin:
    """A third-party plugin that could not be used, and why."""

    name: str
    distribution: str
    version: str
    reason: str


class PluginError(OwnscanError):
    """A built-in plugin is broken (a bug in ownscan), or two plugins clash."""


class PluginHost:
    """Owns the pluggy PluginManager and the list of loaded and broken plugins.

    Parameters
    ----------
    entry_points
        The entry points to load; by default those of the ``ownscan`` group installed in this
        environment. Tests pass their own.
    disabled
        Entry-point names to skip; by default from ``OWNSCAN_DISABLE_PLUGINS``.
    extra_plugins
        Plugin objects to register after the entry points (tests, embedding applications).
    """

    def __init__(
        self,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
        disabled: Iterable[str] | None = None,
        extra_plugins: Sequence[tuple[str, object]] = (),
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.broken: list[BrokenPlugin] = []
        if disabled is None:
            disabled = [s.strip() for s in os.environ.get(DISABLE_ENV, "").split(",")]
        self.disabled = {d for d in disabled if d}
        self._cache: dict[str, list[Any]] = {}
        eps = list(entry_points) if entry_points is not None else _installed_entry_points()
        # Built-ins first, then third parties, each in a stable order.
        eps.sort(key=lambda ep: (_dist_name(ep) != BUILTIN_DISTRIBUTION, _dist_name(ep), ep.name))
        for ep in eps:
            if ep.name in self.disabled:
                log.info("plugin %s disabled by %s", ep.name, DISABLE_ENV)
                continue
            self._load_entry_point(ep)
        for name, obj in extra_plugins:
            self._register(name, obj, "(registered in code)", "", builtin=False)
        self.pm.check_pending()

    # -- loading -------------------------------------------------------------------------------
    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        dist = _dist_name(ep)
        version = ep.dist.version if ep.dist is not None else ""
        builtin = dist == BUILTIN_DISTRIBUTION
        try:
            obj = ep.load()
        except Exception as exc:
            if builtin:
                raise PluginError(f"built-in plugin {ep.name} failed to load: {exc!r}") from exc
            self._mark_broken(ep.name, dist, version, f"failed to import: {_short(exc)}")
            return
        self._register(ep.name, obj, dist, version, builtin=builtin)

    def _register(self, name: str, obj: object, dist: str, version: str, builtin: bool) -> None:
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:
            if builtin:
                raise PluginError(f"built-in plugin {name} failed to register: {exc!r}") from exc
            self._mark_broken(name, dist, version, f"failed to register: {_short(exc)}")
            return
        self.plugins.append(PluginInfo(name, dist, version, builtin, obj))

    def _mark_broken(self, name: str, dist: str, version: str, reason: str) -> None:
        log.warning("plugin %s (%s %s) skipped: %s", name, dist, version, reason)
        self.broken.append(BrokenPlugin(name, dist, version, reason))

    # -- asking plugins ------------------------------------------------------------------------
    def _collect(self, hook_name: str, kind: str) -> list[Any]:
        """Call ``hook_name`` on each plugin separately, so one broken plugin is isolated."""
        if hook_name in self._cache:
            return self._cache[hook_name]
        results: list[Any] = []
        for info in list(self.plugins):
            impl = getattr(info.module, hook_name, None)
            if impl is None or not self.pm.is_registered(info.module):
                continue
            hook_caller = self.pm.subset_hook_caller(
                hook_name, remove_plugins=[p.module for p in self.plugins if p is not info]
            )
            try:
                offered = list(hook_caller())
                flat = [item for sub in offered for item in (sub or ())]
            except Exception as exc:
                if info.builtin:
                    raise PluginError(f"built-in plugin {info.name} failed in {hook_name}") from exc
                self._unregister_broken(info, f"raised in {hook_name}: {_short(exc)}")
                continue
            info.contributes.setdefault(kind, []).extend(_name_of(x) for x in flat)
            results.extend(flat)
        self._cache[hook_name] = results
        return results

    def _unregister_broken(self, info: PluginInfo, reason: str) -> None:
        self.pm.unregister(info.module)
        self.plugins.remove(info)
        self._mark_broken(info.name, info.distribution, info.version, reason)

    def contributions(self) -> None:
        """Ask every plugin for everything it offers (fills ``PluginInfo.contributes``)."""
        self.importers()
        self.exporters()
        self.window_presets()
        self.transfer_functions()
        self.modes()

    def importers(self) -> list[Importer]:
        """All importers, highest priority first (ties: registration order)."""
        found = self._collect("ownscan_importers", "importers")
        return sorted(found, key=lambda imp: -int(getattr(imp, "priority", 0)))

    def exporters(self) -> list[Exporter]:
        return self._unique(self._collect("ownscan_exporters", "exporters"), "exporter")

    def modes(self) -> list[VisualisationMode]:
        return self._unique(self._collect("ownscan_modes", "modes"), "visualisation mode")

    def window_presets(self) -> list[WindowPreset]:
        return self._first_wins(self._collect("ownscan_window_presets", "window presets"))

    def transfer_functions(self) -> list[TransferFunction]:
        return self._first_wins(self._collect("ownscan_transfer_functions", "transfer functions"))

    @staticmethod
    def _unique(items: list[T], what: str) -> list[T]:
        seen: dict[str, T] = {}
        for item in items:
            name = _name_of(item)
            if name in seen:
                raise PluginError(f"two plugins provide the {what} {name!r}")
            seen[name] = item
        return items

    @staticmethod
    def _first_wins(items: list[T]) -> list[T]:
        seen: set[str] = set()
        out: list[T] = []
        for item in items:
            name = _name_of(item)
            if name in seen:
                log.warning("preset %r is defined twice; the first one is used", name)
                continue
            seen.add(name)
            out.append(item)
        return out

    # -- choosing ------------------------------------------------------------------------------
    def find_importer(self, source: str, via: str | None = None) -> Importer:
        """The importer for ``source``: the one named ``via``, else the first that claims it.

        Raises
        ------
        NoImporter
            Nobody claims the source.
        ValueError
            ``via`` names no installed importer (the message lists them).
        """
        importers = self.importers()
        if via is not None:
            return _by_name(importers, via, "importer")
        for imp in importers:
            claims: Callable[[str], bool] = imp.claims
            try:
                if claims(source):
                    return imp
            except Exception as exc:  # a third party's claims() must not stop the search
                log.warning("importer %s failed while checking %s: %s", imp.name, source, exc)
        raise NoImporter(source, [imp.name for imp in importers])

    def exporter(self, name: str) -> Exporter:
        return _by_name(self.exporters(), name, "export format")

    def mode(self, name: str) -> VisualisationMode:
        return _by_name(self.modes(), name, "mode")


def _by_name(items: Sequence[T], name: str, what: str) -> T:
    for item in items:
        if _name_of(item) == name:
            return item
    valid = ", ".join(sorted(_name_of(i) for i in items)) or "none installed"
    raise ValueError(f"unknown {what} {name!r}; valid: {valid}")


def _name_of(obj: object) -> str:
    return str(getattr(obj, "name", obj))


def _dist_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "(unknown)"


def _short(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last


def _installed_entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, created on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_host() -> None:
    """Forget the process-wide host (tests; after installing a plugin at run time)."""
    global _HOST
    _HOST = None
