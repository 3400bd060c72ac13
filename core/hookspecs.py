"""The extension points of ownscan (pluggy hook specifications).

A plugin is a module (or object) with functions named like the hooks below and decorated with
:data:`hookimpl`; it is registered through the ``ownscan`` entry-point group::

    [project.entry-points.ownscan]
    my_importer = "my_package.ownscan_plugin"

Each hook *contributes* objects (importers, exporters, modes, presets) rather than doing the
work itself: ownscan asks every plugin once what it offers, lists the offers in
``ownscan plugins``, and picks among them (the first importer that claims a source, the exporter
named by ``--format``...). So a plugin author writes one small class and a three-line hook.

All hooks are called through pluggy, with keyword arguments (an implementation may take any
subset of the arguments its spec names), one plugin at a time so that one failing plugin is
isolated; pluggy's hook wrappers (``wrapper=True``) wrap each of these calls and its tracing
sees them. Results are concatenated in plugin registration order (built-ins first, then third
parties sorted by distribution and entry-point name), except that ``tryfirst`` / ``trylast``
implementations come first / last. A hook may return a list, a tuple or None. Hook functions
must be cheap and must not import heavy libraries (numpy, moderngl...) at module level:
``ownscan plugins`` asks every hook. See docs/PLUGINS.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ownscan.core.plugin_types import Exporter, Importer, OptionParser
    from ownscan.core.render import TransferFunction, VisualisationMode
    from ownscan.core.volume import WindowPreset

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "ownscan"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------
@hookspec
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    """Add the command-line flags this plugin understands to the subcommand ``command``.

    Called only for the subcommand being run, and only for subcommands that read sources or
    talk to servers (``import``, ``info``, ``export``, ``render``, ``search``), once per process
    (``ownscan --help`` and the library commands never load plugins). ``parser.add_argument``
    takes argparse's arguments; the value reaches the importer as ``ImportOptions.extra[dest]``
    (``--password`` -> ``options.get("password")``) and is absent when the user did not give
    it. A flag that the command or an earlier plugin already has makes this plugin broken.

    Parameters
    ----------
    parser
        A :class:`ownscan.core.plugin_types.OptionParser` for this command.
    command
        The subcommand's name; add only the flags that make sense for it.
    """


# ---------------------------------------------------------------------------------------------
# Getting scans in
# ---------------------------------------------------------------------------------------------
@hookspec
def ownscan_importers() -> Sequence[Importer]:
    """Return the importers this plugin provides.

    Called once per process by the plugin host, the first time importers are needed (not at
    start-up). Results of all plugins are concatenated; for a source, the host asks the
    importers in order of their ``priority`` (highest first, ties in registration order) and
    the first whose ``claims(source)`` returns True takes it, unless the user forces one with
    ``--via NAME``. When none claims it, the error lists the installed importers.

    Returns
    -------
    Sequence[Importer]
        Objects with ``name`` (unique among all plugins: a clash makes the later plugin
        broken), ``description``, ``priority`` (an int), ``claims(source) -> bool`` (cheap,
        never raises) and ``iter_items(source, options) -> Iterator[SourceItem]``; see
        :class:`ownscan.core.plugin_types.Importer`.
    """
    raise NotImplementedError  # a spec: pluggy never calls this body


# ---------------------------------------------------------------------------------------------
# Getting results out
# ---------------------------------------------------------------------------------------------
@hookspec
def ownscan_exporters() -> Sequence[Exporter]:
    """Return the exporters (output formats) this plugin provides.

    Called once per process by the plugin host, the first time exporters are needed. Results
    are concatenated; ``ownscan export --format NAME`` uses the exporter with that ``name``.
    Names are unique: a third-party exporter whose name is already taken makes its plugin
    broken (listed with the reason in ``ownscan plugins``), and two built-ins with one name are
    a :class:`~ownscan.core.plugin_host.PluginError`.

    Returns
    -------
    Sequence[Exporter]
        Objects with ``name``, ``description``, ``writes_folder`` and
        ``export(volumes, output, options) -> list[Path]``; see
        :class:`ownscan.core.plugin_types.Exporter`.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Showing scans
# ---------------------------------------------------------------------------------------------
@hookspec
def ownscan_modes() -> Sequence[VisualisationMode]:
    """Return the visualisation modes (mpr, mip, dvr...) this plugin provides.

    Called once per process by the plugin host, the first time modes are needed. Each mode
    carries its GLSL accumulate/finish functions and the array implementation of the same
    maths; its fields are documented in :mod:`ownscan.core.render`. Results are concatenated;
    modes are chosen by ``name``, which is unique (a clash makes the later plugin broken).

    Returns
    -------
    Sequence[VisualisationMode]
        Mode objects; the host checks only that each has a non-empty ``name``.
    """
    raise NotImplementedError


@hookspec
def ownscan_window_presets() -> Sequence[WindowPreset]:
    """Return named window/level presets (brain, lung, bone...).

    Called once per process by the plugin host. Results are concatenated; a later preset with
    the same name as an earlier one is ignored with a warning (built-ins come first).

    Returns
    -------
    Sequence[WindowPreset]
        :class:`ownscan.core.volume.WindowPreset` objects (``name``, ``width``, ``level``).
    """
    raise NotImplementedError


@hookspec
def ownscan_transfer_functions() -> Sequence[TransferFunction]:
    """Return named transfer functions (colour and opacity by value) for 3D rendering.

    Called once per process by the plugin host. Results are concatenated; chosen by ``name``;
    of two with one name the first registered is used and a warning is logged. The fields are
    documented in :mod:`ownscan.core.render`.

    Returns
    -------
    Sequence[TransferFunction]
        Transfer-function objects; the host checks only that each has a non-empty ``name``.
    """
    raise NotImplementedError
