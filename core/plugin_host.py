"""The plugin host: the one object that owns pluggy.

Loading order (nothing is loaded at import time, only when a :class:`PluginHost` is made):

1. every entry point in the ``ownscan`` group, the built-ins of our own distribution first
   (they are registered exactly as a third party's plugins are, from our pyproject.toml), then
   third parties sorted by distribution and entry-point name, so the order is stable;
2. entry points named in ``OWNSCAN_DISABLE_PLUGINS`` (comma separated; an entry-point name or a
   distribution name) are skipped and listed as disabled;
3. each plugin is checked on its own: a hook name that no hookspec declares (a typo such as
   ``ownscan_importer``) or a plugin that implements no hook at all (a forgotten ``@hookimpl``)
   makes it broken; then ``check_pending()`` as a last guard.

What plugins contribute (importers, exporters, modes, presets) is asked lazily, the first time
it is needed, one plugin at a time, and checked: the required attributes must be there and the
names of importers, exporters and modes must be unique.

A third-party plugin that fails to import, raises while registering or answering a hook, or
contributes something malformed or clashing, is recorded in :attr:`PluginHost.broken` with the
reason, logged once, and dropped with everything it contributed: one bad plugin never stops
ownscan. A broken built-in is a bug in ownscan and raises :class:`PluginError`.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from ownscan.core import hookspecs
from ownscan.core.errors import NoImporter, OwnscanError, UsageError

if TYPE_CHECKING:
    from ownscan.core.plugin_types import Exporter, Importer
    from ownscan.core.render import TransferFunction, VisualisationMode
    from ownscan.core.volume import WindowPreset

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "BrokenPlugin",
    "DisabledPlugin",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "current_host",
    "get_host",
    "reset_host",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ownscan"
DISABLE_ENV = "OWNSCAN_DISABLE_PLUGINS"
BUILTIN_DISTRIBUTION = "ownscan"

T = TypeVar("T")

# hook name -> (kind shown in ``ownscan plugins``, what one item is called in messages)
_KINDS: dict[str, tuple[str, str]] = {
    "ownscan_importers": ("importers", "importer"),
    "ownscan_exporters": ("exporters", "exporter"),
    "ownscan_modes": ("modes", "visualisation mode"),
    "ownscan_window_presets": ("window presets", "window preset"),
    "ownscan_transfer_functions": ("transfer functions", "transfer function"),
}
# attributes every contribution must have, and which of them must be callable
_REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ownscan_importers": (("name", "priority"), ("claims", "iter_items")),
    "ownscan_exporters": (("name", "writes_folder"), ("export",)),
    "ownscan_modes": (("name",), ()),
    "ownscan_window_presets": (("name", "width", "level"), ()),
    "ownscan_transfer_functions": (("name",), ()),
}
# kinds whose names must be unique (they are chosen by name); presets: the first one wins
_UNIQUE = frozenset({"ownscan_importers", "ownscan_exporters", "ownscan_modes"})


@dataclass
class PluginInfo:
    """A loaded plugin: where it came from and what it contributes.

    Parameters
    ----------
    name
        The entry-point name (what ``OWNSCAN_DISABLE_PLUGINS`` takes).
    distribution, version
        The installed distribution that declared the entry point.
    builtin
        True for ownscan's own plugins.
    module
        The registered plugin object (usually a module).
    contributes
        Kind (``"importers"``, ``"exporters"``, ...) to the names contributed; filled as the
        host asks (all at once by :meth:`PluginHost.contributions`).
    """

    name: str
    distribution: str
    version: str
    builtin: bool
    module: object
    contributes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name (distribution version)``, for messages."""
        return f"{self.name} ({self.distribution} {self.version})".replace(" )", ")")


@dataclass(frozen=True)
class BrokenPlugin:
    """A third-party plugin that could not be used, and why."""

    name: str
    distribution: str
    version: str
    reason: str


@dataclass(frozen=True)
class DisabledPlugin:
    """An installed plugin that ``OWNSCAN_DISABLE_PLUGINS`` kept from loading."""

    name: str
    distribution: str
    version: str


class PluginError(OwnscanError):
    """A built-in plugin is broken or two built-ins clash: a bug in ownscan itself."""


class _Unusable(Exception):
    """Internal: a plugin's contribution is malformed or clashes (the message says how)."""


class PluginHost:
    """Owns the pluggy PluginManager and the list of loaded, broken and disabled plugins.

    Parameters
    ----------
    entry_points
        The entry points to load; by default those of the ``ownscan`` group installed in this
        environment. Tests pass their own.
    disabled
        Entry-point or distribution names to skip; by default from ``OWNSCAN_DISABLE_PLUGINS``.
    extra_plugins
        ``(name, plugin object)`` pairs to register after the entry points (tests, embedding
        applications). They are treated as third-party plugins.

    Raises
    ------
    PluginError
        A built-in plugin failed to load or register.
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
        self.disabled_plugins: list[DisabledPlugin] = []
        if disabled is None:
            disabled = os.environ.get(DISABLE_ENV, "").split(",")
        self.disabled = {d.strip() for d in disabled if d.strip()}
        self._disabled_dists = {_normalise(d) for d in self.disabled}
        # hook name -> [(plugin, contributed object)] in registration order
        self._cache: dict[str, list[tuple[PluginInfo, Any]]] = {}
        if entry_points is None:
            eps = _installed_entry_points()
            if not any(_dist_name(ep) == BUILTIN_DISTRIBUTION for ep in eps):
                # e.g. run from a source tree put on PYTHONPATH: no dist-info, no entry points
                log.warning(
                    "ownscan's built-in plugins are not registered (no entry points of the "
                    "installed distribution 'ownscan'); install it, e.g. pip install -e ."
                )
        else:
            eps = list(entry_points)
        # Built-ins first, then third parties, each in a stable order.
        eps.sort(key=lambda ep: (_dist_name(ep) != BUILTIN_DISTRIBUTION, _dist_name(ep), ep.name))
        for ep in eps:
            if ep.name in self.disabled or _normalise(_dist_name(ep)) in self._disabled_dists:
                log.info("plugin %s disabled by %s", ep.name, DISABLE_ENV)
                self.disabled_plugins.append(DisabledPlugin(ep.name, _dist_name(ep), _version(ep)))
                continue
            self._load_entry_point(ep)
        for name, obj in extra_plugins:
            self._register(name, obj, "(registered in code)", "", builtin=False)
        # Every plugin has been checked on its own above; this only guards against a bug here.
        self.pm.check_pending()

    # -- loading -------------------------------------------------------------------------------
    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        dist = _dist_name(ep)
        version = _version(ep)
        builtin = dist == BUILTIN_DISTRIBUTION
        try:
            obj = ep.load()
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() must not stop us
            if builtin:
                raise PluginError(f"built-in plugin {ep.name} failed to load: {exc!r}") from exc
            self._mark_broken(ep.name, dist, version, f"failed to import: {_short(exc)}")
            return
        self._register(ep.name, obj, dist, version, builtin=builtin)

    def _register(self, name: str, obj: object, dist: str, version: str, builtin: bool) -> None:
        taken = next((p for p in self.plugins if p.name == name), None)
        if taken is not None:
            clash = f"the plugin name {name!r} is already taken by plugin {taken.label}"
            if builtin:
                raise PluginError(f"built-in plugin {name}: {clash}")
            self._mark_broken(name, dist, version, clash + "; rename its entry point")
            return
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:
            if builtin:
                raise PluginError(f"built-in plugin {name} failed to register: {exc!r}") from exc
            self._mark_broken(name, dist, version, f"failed to register: {_short(exc)}")
            return
        problem = self._hook_problem(obj)
        if problem is not None:
            self.pm.unregister(obj)
            if builtin:
                raise PluginError(f"built-in plugin {name} {problem}")
            self._mark_broken(name, dist, version, problem)
            return
        self.plugins.append(PluginInfo(name, dist, version, builtin, obj))

    def _hook_problem(self, obj: object) -> str | None:
        """Why a registered plugin cannot work (unknown or no hooks), or None."""
        callers = self.pm.get_hookcallers(obj) or []
        unknown = sorted(hc.name for hc in callers if hc.spec is None)
        if unknown:
            known = ", ".join(sorted(_KINDS))
            return f"implements unknown hook(s) {', '.join(unknown)}; the hooks are: {known}"
        if not callers:
            return (
                "implements no ownscan hook (decorate the hook functions with "
                "ownscan.core.hookimpl)"
            )
        return None

    def _mark_broken(self, name: str, dist: str, version: str, reason: str) -> None:
        log.warning("plugin %s (%s %s) skipped: %s", name, dist, version, reason)
        self.broken.append(BrokenPlugin(name, dist, version, reason))

    def _drop(self, info: PluginInfo, reason: str) -> None:
        """Unregister a third-party plugin and forget everything it contributed."""
        self.pm.unregister(info.module)
        self.plugins.remove(info)
        for hook, entries in self._cache.items():
            self._cache[hook] = [(owner, item) for owner, item in entries if owner is not info]
        self._mark_broken(info.name, info.distribution, info.version, reason)

    # -- asking plugins ------------------------------------------------------------------------
    def _collect(self, hook_name: str) -> list[Any]:
        """Ask each plugin separately for its ``hook_name`` offers, so one bad plugin is isolated.

        Each plugin is asked once per host; the offers are checked (required attributes, unique
        names) before they are accepted.
        """
        if hook_name not in self._cache:
            kind, what = _KINDS[hook_name]
            self._cache[hook_name] = []
            impls = getattr(self.pm.hook, hook_name).get_hookimpls()
            by_plugin = {id(impl.plugin): impl for impl in impls}
            for info in list(self.plugins):
                impl = by_plugin.get(id(info.module))
                if impl is None:
                    continue
                try:
                    offered = _as_list(impl.function(), hook_name)
                    for item in offered:
                        _check_item(item, hook_name, what)
                        self._check_clash(item, hook_name, what, info)
                except Exception as exc:
                    if info.builtin:
                        raise PluginError(
                            f"built-in plugin {info.name} failed in {hook_name}: {_short(exc)}"
                        ) from exc
                    if isinstance(exc, _Unusable):
                        self._drop(info, str(exc))
                    else:
                        self._drop(info, f"raised in {hook_name}: {_short(exc)}")
                    continue
                info.contributes.setdefault(kind, []).extend(_name_of(x) for x in offered)
                self._cache[hook_name].extend((info, item) for item in offered)
        return [item for _, item in self._cache[hook_name]]

    def _check_clash(self, item: object, hook_name: str, what: str, info: PluginInfo) -> None:
        if hook_name not in _UNIQUE:
            return
        name = _name_of(item)
        for owner, other in self._cache[hook_name]:
            if _name_of(other) == name:
                raise _Unusable(
                    f"its {what} {name!r} clashes with the one from plugin {owner.name} "
                    f"({owner.distribution} {owner.version})"
                )

    def owner(self, obj: object) -> PluginInfo:
        """The plugin that contributed ``obj`` (an importer, exporter, mode or preset).

        Raises
        ------
        ValueError
            ``obj`` was not contributed by a loaded plugin.
        """
        for entries in self._cache.values():
            for info, item in entries:
                if item is obj:
                    return info
        raise ValueError(f"{obj!r} was not contributed by a loaded plugin")

    def contributions(self) -> None:
        """Ask every plugin for everything it offers (fills ``PluginInfo.contributes``)."""
        for hook_name in _KINDS:
            self._collect(hook_name)

    def importers(self) -> list[Importer]:
        """All importers, highest ``priority`` first (ties: registration order)."""
        return sorted(self._collect("ownscan_importers"), key=lambda imp: -int(imp.priority))

    def exporters(self) -> list[Exporter]:
        """All exporters, in registration order (names are unique)."""
        return self._collect("ownscan_exporters")

    def modes(self) -> list[VisualisationMode]:
        """All visualisation modes, in registration order (names are unique)."""
        return self._collect("ownscan_modes")

    def window_presets(self) -> list[WindowPreset]:
        """All window presets; of two with one name the first registered is kept."""
        return _first_wins(self._collect("ownscan_window_presets"), "window preset")

    def transfer_functions(self) -> list[TransferFunction]:
        """All transfer functions; of two with one name the first registered is kept."""
        return _first_wins(self._collect("ownscan_transfer_functions"), "transfer function")

    # -- choosing ------------------------------------------------------------------------------
    def find_importer(self, source: str, via: str | None = None) -> Importer:
        """The importer for ``source``: the one named ``via``, else the first that claims it.

        Parameters
        ----------
        source
            A path or URL as the user typed it.
        via
            The name of an importer to use whatever ``claims`` says (``--via NAME``).

        Returns
        -------
        Importer
            The chosen importer; :meth:`owner` tells which plugin provides it.

        Raises
        ------
        NoImporter
            Nobody claims the source (the message lists the installed importers).
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
                log.warning(
                    "importer %s failed while checking %s: %s", imp.name, source, _short(exc)
                )
        raise NoImporter(source, [imp.name for imp in importers])

    def exporter(self, name: str) -> Exporter:
        """The exporter whose ``name`` is ``name`` (``--format``); ValueError lists the valid."""
        return _by_name(self.exporters(), name, "export format")

    def mode(self, name: str) -> VisualisationMode:
        """The visualisation mode called ``name``; ValueError lists the valid ones."""
        return _by_name(self.modes(), name, "mode")


def _as_list(offered: object, hook_name: str) -> list[Any]:
    if offered is None:
        return []
    if isinstance(offered, str | bytes) or not isinstance(offered, Iterable):
        raise _Unusable(f"{hook_name} must return a list, not {type(offered).__name__}")
    return list(offered)


def _check_item(item: object, hook_name: str, what: str) -> None:
    attrs, methods = _REQUIRED[hook_name]
    missing = [a for a in (*attrs, *methods) if not hasattr(item, a)]
    if missing:
        raise _Unusable(f"its {what} {item!r} lacks {', '.join(missing)}")
    name = item.name  # type: ignore[attr-defined]
    if not isinstance(name, str) or not name:
        raise _Unusable(f"its {what} {item!r} has no name (a non-empty str)")
    for m in methods:
        if not callable(getattr(item, m)):
            raise _Unusable(f"its {what} {name!r}: {m} is not callable")
    if hook_name == "ownscan_importers":
        prio = item.priority  # type: ignore[attr-defined]
        if isinstance(prio, bool) or not isinstance(prio, int):
            raise _Unusable(f"its {what} {name!r}: priority must be an int, not {prio!r}")


def _first_wins(items: list[T], what: str) -> list[T]:
    seen: set[str] = set()
    out: list[T] = []
    for item in items:
        name = _name_of(item)
        if name in seen:
            log.warning("%s %r is defined twice; the first one is used", what, name)
            continue
        seen.add(name)
        out.append(item)
    return out


def _by_name(items: Sequence[T], name: str, what: str) -> T:
    for item in items:
        if _name_of(item) == name:
            return item
    valid = ", ".join(sorted(_name_of(i) for i in items)) or "none installed"
    raise UsageError(f"unknown {what} {name!r}; valid: {valid}")


def _name_of(obj: object) -> str:
    return str(getattr(obj, "name", obj))


def _normalise(dist: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", dist).lower()


def _dist_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "(unknown)"


def _version(ep: metadata.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else ""


def _short(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _installed_entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, created on first use.

    Returns
    -------
    PluginHost
        The same object on every call until :func:`reset_host`.
    """
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def current_host() -> PluginHost | None:
    """The process-wide host if one was made, without making one (error reporting)."""
    return _HOST


def reset_host() -> None:
    """Forget the process-wide host (tests; after installing a plugin at run time)."""
    global _HOST
    _HOST = None
