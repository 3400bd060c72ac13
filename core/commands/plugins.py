"""``ownscan plugins``: what is installed and what each plugin contributes.

``ownscan plugins --source SOURCE [--via NAME]`` also says which importer takes a source and
what it finds there, without importing anything: the quickest check of an importer plugin.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError

if TYPE_CHECKING:
    from ownscan.core.plugin_host import PluginHost

NAME = "plugins"
HELP = "list installed plugins and what each contributes"
DESCRIPTION = (
    "List the installed plugins (built-in and third-party) with their distribution, version and "
    "what each contributes; broken plugins with the reason; plugins disabled by "
    "OWNSCAN_DISABLE_PLUGINS. With --source, show which importer takes a source and what it "
    "finds there (nothing is imported)."
)
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--source",
        metavar="SOURCE",
        help="a path or URL: show which importer takes it and what it finds there",
    )
    parser.add_argument(
        "--via", metavar="NAME", help="with --source: use this importer whatever claims it"
    )


def run(args: argparse.Namespace) -> int:
    from ownscan.core.plugin_host import get_host

    host = get_host()
    if args.via is not None and args.source is None:
        raise UsageError("--via needs --source")
    if args.source is not None:
        return _probe(host, args.source, args.via, args.json)
    host.contributions()
    if args.json:
        print(json.dumps(_as_json(host), indent=2))
        return 0
    _print_table(host)
    return 0


def _as_json(host: PluginHost) -> dict[str, Any]:
    return {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "builtin": p.builtin,
                "contributes": p.contributes,
            }
            for p in host.plugins
        ],
        "broken": [b.__dict__ for b in host.broken],
        "disabled": [d.__dict__ for d in host.disabled_plugins],
    }


def _print_table(host: PluginHost) -> None:
    for p in host.plugins:
        origin = "built-in" if p.builtin else "third-party"
        print(f"{p.name}  {p.distribution} {p.version}  ({origin})".replace("   ", "  "))
        for kind, names in p.contributes.items():
            if names:
                print(f"    {kind}: {', '.join(names)}")
    importers = host.importers()
    if importers:
        print()
        print("importers, in the order they are asked:")
        for imp in importers:
            owner = host.owner(imp)
            desc = str(getattr(imp, "description", "") or "")
            print(f"    {imp.name:<12} {desc}  [plugin {owner.name}, priority {imp.priority}]")
    for b in host.broken:
        print(f"BROKEN {b.name}  {b.distribution} {b.version}: {b.reason}")
    for d in host.disabled_plugins:
        print(f"disabled {d.name}  {d.distribution} {d.version}  (OWNSCAN_DISABLE_PLUGINS)")


def _probe(host: PluginHost, source: str, via: str | None, as_json: bool) -> int:
    from ownscan.core.plugin_types import ImportOptions

    importer = host.find_importer(source, via=via)
    owner = host.owner(importer)
    count: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []  # what the importer deliberately does not read
    for item in importer.iter_items(source, ImportOptions()):
        if item.problem is not None:
            problems.append((item.origin, item.problem))
        elif item.skip is not None:
            skipped.append((item.origin, item.skip))
        else:
            count[item.media_type] = count.get(item.media_type, 0) + 1
    how = "forced by --via" if via is not None else "claims it"
    if as_json:
        out = {
            "source": source,
            "importer": importer.name,
            "plugin": owner.name,
            "distribution": owner.distribution,
            "version": owner.version,
            "forced": via is not None,
            "items": count,
            "problems": [{"origin": o, "problem": p} for o, p in problems],
            "skipped": [{"origin": o, "reason": r} for o, r in skipped],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"{source}")
    print(f"    importer {importer.name} ({how}), from plugin {owner.label}")
    found = ", ".join(f"{n} {media}" for media, n in sorted(count.items())) or "nothing"
    print(f"    found: {found}")
    if problems:
        print(f"    refused {len(problems)}:")
        for origin, problem in problems:
            print(f"        {origin}: {problem}")
    if skipped:
        print(f"    skipped {len(skipped)} (not read):")
        for origin, why in skipped:
            print(f"        {origin}: {why}")
    return 0
