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
it is needed, and checked: each contribution against its Protocol in
:data:`ownscan.core.plugin_types.CONTRACTS` (members present, methods callable, simple types
right), and the names of importers, exporters and modes must be unique. Every hook is called
through pluggy (``pm.hook.<name>`` narrowed by ``subset_hook_caller`` to one plugin at a time,
with keyword arguments), so pluggy's tracing and hook wrappers apply, and ``tryfirst`` /
``trylast`` order the results; the narrowing is what keeps one plugin's failure its own.

A third-party plugin that fails to import, raises while registering or answering a hook, or
contributes something malformed or clashing, is recorded in :attr:`PluginHost.broken` with the
reason, logged once, and dropped with everything it contributed: one bad plugin never stops
ownscan. A broken built-in is a bug in ownscan and raises :class:`PluginError`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import re
import traceback
import typing
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
    "PLUGIN_OPTIONS_ATTR",
    "BrokenPlugin",
    "DisabledPlugin",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "current_host",
    "get_host",
    "plugin_options",
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
# kinds whose names must be unique (they are chosen by name); presets: the first one wins
_UNIQUE = frozenset({"ownscan_importers", "ownscan_exporters", "ownscan_modes"})
# where a command's plugin options go on the argparse namespace: dest -> key in extra
PLUGIN_OPTIONS_ATTR = "_plugin_options"


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
            known = ", ".join(sorted(self._hook_names()))
            return f"implements unknown hook(s) {', '.join(unknown)}; the hooks are: {known}"
        if not callers:
            return (
                "implements no ownscan hook (decorate the hook functions with "
                "ownscan.core.hookimpl)"
            )
        # each plugin is asked on its own through pm.subset_hook_caller, which tells plugins
        # apart by their attribute of the hook's name
        renamed = sorted(hc.name for hc in callers if not hasattr(obj, hc.name))
        if renamed:
            return (
                f"implements {', '.join(renamed)} under another name (specname); name the "
                "hook function after the hook"
            )
        return None

    def _hook_names(self) -> list[str]:
        return [
            name
            for name in dir(self.pm.hook)
            if name.startswith("ownscan_") and getattr(self.pm.hook, name).spec is not None
        ]

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
    def _askers(self, hook_name: str) -> list[tuple[PluginInfo, list[PluginInfo]]]:
        """The plugins with a (non-wrapper) implementation of ``hook_name``, in the order they
        are asked: ``tryfirst`` ones, the others, ``trylast`` ones, each group in registration
        order; with each, the plugins whose wrappers wrap its call."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        by_id = {id(info.module): info for info in self.plugins}
        plain = {id(i.plugin): i for i in impls if not (i.wrapper or i.hookwrapper)}
        wrappers = [by_id[id(i.plugin)] for i in impls if i.wrapper or i.hookwrapper]
        order = [info for info in self.plugins if id(info.module) in plain]
        order.sort(
            key=lambda info: (-plain[id(info.module)].tryfirst, plain[id(info.module)].trylast)
        )
        return [(info, wrappers) for info in order]

    def _call(
        self,
        hook_name: str,
        info: PluginInfo,
        leave_out: Sequence[PluginInfo],
        kwargs: dict[str, Any],
    ) -> list[Any]:
        """``pm.hook.<hook_name>(**kwargs)`` narrowed to ``info`` (and the wrappers not in
        ``leave_out``): pluggy runs it, so its tracing and hook wrappers apply."""
        others = [
            p.module
            for p in self.plugins
            if p is not info and (p in leave_out or self._plain(p, hook_name))
        ]
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        return list(caller(**kwargs))

    def _plain(self, info: PluginInfo, hook_name: str) -> bool:
        impl = getattr(self.pm.hook, hook_name)
        return any(
            i.plugin is info.module and not (i.wrapper or i.hookwrapper)
            for i in impl.get_hookimpls()
        )

    def _ask(
        self, hook_name: str, info: PluginInfo, wrappers: list[PluginInfo], kwargs: dict[str, Any]
    ) -> list[Any]:
        """The results of ``info``'s ``hook_name``; when the call fails only with third-party
        wrappers around it, the failing wrappers' plugins are dropped (their bug is not
        ``info``'s) and the call is made again without them."""
        try:
            return self._call(hook_name, info, (), kwargs)
        except Exception:
            suspects = [
                w for w in wrappers if not w.builtin and w is not info and w in self.plugins
            ]
            if not suspects:
                raise
            self._call(hook_name, info, suspects, kwargs)  # raises: the fault is its own
            for w in suspects:
                alone = [x for x in suspects if x is not w]
                try:
                    self._call(hook_name, info, alone, kwargs)
                except Exception as exc:
                    self._drop(w, f"its wrapper of {hook_name} raised: {_short(exc)}")
            return self._call(
                hook_name, info, [w for w in suspects if w not in self.plugins], kwargs
            )

    def _collect(self, hook_name: str) -> list[Any]:
        """Ask each plugin separately for its ``hook_name`` offers, so one bad plugin is isolated.

        Each plugin is asked once per host; the offers are checked (against the Protocol of the
        kind, unique names) before they are accepted.
        """
        if hook_name not in self._cache:
            kind, what = _KINDS[hook_name]
            self._cache[hook_name] = []
            for info, wrappers in self._askers(hook_name):
                if info not in self.plugins:  # dropped meanwhile (a failing wrapper)
                    continue
                try:
                    offered = [
                        item
                        for result in self._ask(hook_name, info, wrappers, {})
                        for item in _as_list(result, hook_name)
                    ]
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

    def add_options(self, parser: argparse.ArgumentParser, command: str) -> None:
        """Let every plugin add its flags for ``command`` (``ownscan_addoption``) to ``parser``.

        Each plugin's flags go into an argument group of their own (``--help`` shows whose they
        are); a plugin whose hook raises or whose flags clash with the command's or an earlier
        plugin's is dropped, with its flags. :func:`plugin_options` reads the values back.
        """
        from ownscan.core.plugin_types import OptionParser

        taken = {s: "the command" for a in parser._actions for s in a.option_strings}
        dests: dict[str, str] = dict(parser.get_default(PLUGIN_OPTIONS_ATTR) or {})
        for info, wrappers in self._askers("ownscan_addoption"):
            if info not in self.plugins:
                continue
            adder = OptionParser(command)
            try:
                self._ask(
                    "ownscan_addoption", info, wrappers, {"parser": adder, "command": command}
                )
                for flag in adder.flags:
                    if flag in taken:
                        raise _Unusable(f"its option {flag} clashes with {taken[flag]}")
            except Exception as exc:
                if info.builtin:
                    raise PluginError(
                        f"built-in plugin {info.name} failed in ownscan_addoption: {_short(exc)}"
                    ) from exc
                reason = str(exc)
                if not isinstance(exc, _Unusable):
                    reason = f"raised in ownscan_addoption: {_short(exc)}"
                self._drop(info, reason)
                continue
            if not adder.options:
                continue
            group = parser.add_argument_group(f"options of plugin {info.name}")
            for flags, kwargs in adder.options:
                key = kwargs["dest"]
                dest = f"_plugin_{info.name}_{key}"
                group.add_argument(*flags, **{**kwargs, "dest": dest})
                dests[dest] = key
                taken.update(dict.fromkeys(flags, f"the one of plugin {info.label}"))
        parser.set_defaults(**{PLUGIN_OPTIONS_ATTR: dests})

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


@functools.cache
def _contract(proto: type) -> tuple[dict[str, Any], list[str]]:
    """The data members of a Protocol with their types (where they evaluate), and its methods."""
    members: dict[str, Any] = {}
    methods: list[str] = []
    for cls in reversed(proto.__mro__):
        if cls in (object, typing.Protocol, typing.Generic):
            continue
        for name in getattr(cls, "__annotations__", {}):
            members[name] = Any
        methods += [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]
    # a hint that does not evaluate at run time: only its presence is checked
    with contextlib.suppress(Exception):
        members.update(typing.get_type_hints(proto))
    return members, methods


def _check_item(item: object, hook_name: str, what: str) -> None:
    from ownscan.core.plugin_types import CONTRACTS

    members, methods = _contract(CONTRACTS[hook_name])
    missing = [a for a in (*members, *methods) if not hasattr(item, a)]
    if missing:
        raise _Unusable(f"its {what} {item!r} lacks {', '.join(missing)}")
    name = item.name  # type: ignore[attr-defined]
    if not isinstance(name, str) or not name:
        raise _Unusable(f"its {what} {item!r} has no name (a non-empty str)")
    for m in methods:
        if not callable(getattr(item, m)):
            raise _Unusable(f"its {what} {name!r}: {m} is not callable")
    for attr, hint in members.items():
        value = getattr(item, attr)
        if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise _Unusable(f"its {what} {name!r}: {attr} must be an int, not {value!r}")
        if hint is str and not isinstance(value, str):
            raise _Unusable(f"its {what} {name!r}: {attr} must be a str, not {value!r}")
        if hint is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _Unusable(f"its {what} {name!r}: {attr} must be a number, not {value!r}")


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


def plugin_options(args: argparse.Namespace) -> dict[str, Any]:
    """The values of the plugin flags (:meth:`PluginHost.add_options`) the user gave, by key:
    what a command passes on as ``ImportOptions.extra``."""
    dests: dict[str, str] = getattr(args, PLUGIN_OPTIONS_ATTR, None) or {}
    values = {key: getattr(args, dest, None) for dest, key in dests.items()}
    return {key: value for key, value in values.items() if value is not None}


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
