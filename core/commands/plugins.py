"""``ownscan plugins``: what is installed and what each plugin contributes."""

from __future__ import annotations

import argparse
import json

NAME = "plugins"
HELP = "list installed plugins and what each contributes"
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from ownscan.core.plugin_host import get_host

    host = get_host()
    host.contributions()
    if args.json:
        out = {
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
        }
        print(json.dumps(out, indent=2))
        return 0
    for p in host.plugins:
        origin = "built-in" if p.builtin else f"{p.distribution} {p.version}"
        print(f"{p.name}  ({origin})")
        for kind, names in p.contributes.items():
            if names:
                print(f"    {kind}: {', '.join(names)}")
    for b in host.broken:
        print(f"{b.name}  ({b.distribution} {b.version})  BROKEN: {b.reason}")
    return 0
