"""Start-up time of the ``ownscan`` command, with and without plugins.

Run: ``python benchmarks/bench_startup.py [--runs N]`` (in the environment where ownscan is
installed). Each row is the median wall time of N fresh processes, the rows taking turns; the
ratio columns compare with the bare interpreter (``python -c pass``) and with ``ownscan --help``
with every plugin disabled. A pluggy-based peer, ``pytest --version``, runs in the same table.

"with a third-party plugin" adds examples/ownscan-example-importer as an installed
distribution (a ``*.dist-info`` with its entry point, on PYTHONPATH) without touching the
environment. Afterwards ``python -X importtime`` shows what ``ownscan plugins`` imports, and
checks that none of the heavy libraries (numpy, pydicom, moderngl...) is among them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "ownscan-example-importer"
HEAVY = ("numpy", "pydicom", "moderngl", "glfw", "nibabel", "PIL", "cupy", "requests")


def _ownscan() -> str:
    script = Path(sys.executable).with_name("ownscan")
    if not script.exists():
        sys.exit(f"{script}: not found; install ownscan into this environment first")
    return str(script)


def _medians_s(rows: list[tuple[list[str], dict[str, str]]], runs: int) -> list[float]:
    """Median wall time per row; the rows take turns, so load from other processes on the
    machine spreads over all rows instead of landing on one."""
    for cmd, env in rows:  # warm the file cache, and fail early if a command fails
        subprocess.run(cmd, env=env, capture_output=True, check=True)
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(runs):
        for i, (cmd, env) in enumerate(rows):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


LOAD_ONLY = (
    "import time\n"
    "from ownscan.core.plugin_host import PluginHost\n"
    "t0 = time.perf_counter()\n"
    "host = PluginHost()\n"
    "host.contributions()\n"
    "print(time.perf_counter() - t0, len(host.plugins))\n"
)


def _load_only_ms(env: dict[str, str], runs: int) -> tuple[float, int]:
    """Median in-process time of discovering, importing and asking every plugin, first time."""
    times, n = [], 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", LOAD_ONLY], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]) * 1000)
        n = int(out[1])
    return statistics.median(times), n


def _fake_install(root: Path) -> Path:
    """The example plugin as pip would lay it out, in a folder to put on PYTHONPATH."""
    site = root / "site"
    site.mkdir()
    (site / "ownscan_example_importer").symlink_to(EXAMPLE / "ownscan_example_importer")
    info = site / "ownscan_example_importer-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ownscan-example-importer\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[ownscan]\ntar = ownscan_example_importer.plugin\n")
    return site


HOST_ONLY = "from ownscan.core.plugin_host import PluginHost; PluginHost()"
PLUGINS_CMD = "from ownscan.core.cli import main; main(['plugins'])"


def _importtime(code: str, env: dict[str, str]) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line[12:].split("|"))
            rows.append((int(cumulative), name))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per row (median)")
    args = parser.parse_args()
    ownscan = _ownscan()
    base = {k: v for k, v in os.environ.items() if k not in {"OWNSCAN_DISABLE_PLUGINS"}}
    installed = sorted({ep.name for ep in metadata.entry_points(group="ownscan")})
    with tempfile.TemporaryDirectory() as tmp:
        site = _fake_install(Path(tmp))
        third = {
            **base,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), base.get("PYTHONPATH")])),
        }
        none = {**base, "OWNSCAN_DISABLE_PLUGINS": ",".join([*installed, "tar"])}
        rows = [
            ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], base),
            ("pytest --version (pluggy peer)", [sys.executable, "-m", "pytest", "--version"], base),
            ("ownscan --version", [ownscan, "--version"], base),
            ("ownscan --help, all plugins disabled", [ownscan, "--help"], none),
            ("ownscan --help, built-in plugins", [ownscan, "--help"], base),
            ("ownscan --help, + third-party plugin", [ownscan, "--help"], third),
            (
                "PluginHost() only, + third-party plugin",
                [sys.executable, "-c", HOST_ONLY],
                third,
            ),
            ("ownscan plugins, all plugins disabled", [ownscan, "plugins"], none),
            ("ownscan plugins, built-in plugins", [ownscan, "plugins"], base),
            ("ownscan plugins, + third-party plugin", [ownscan, "plugins"], third),
        ]
        medians = _medians_s([(cmd, env) for _, cmd, env in rows], args.runs)
        results = [(label, t) for (label, _, _), t in zip(rows, medians, strict=True)]
        load = [
            (what, *_load_only_ms(env, args.runs))
            for what, env in (("all disabled", none), ("built-ins", base), ("+ third-party", third))
        ]
        imports = _importtime(PLUGINS_CMD, third)
        host_imports = _importtime(HOST_ONLY, third)
    floor = results[0][1]
    help_none = results[3][1]
    print(f"median of {args.runs} runs; built-in plugins: {', '.join(installed)}")
    print(f"{'command':<40} {'ms':>8} {'x python':>9} {'x --help bare':>14}")
    for label, t in results:
        print(f"{label:<40} {t * 1000:8.1f} {t / floor:9.2f} {t / help_none:14.2f}")
    print()
    print("plugin loading alone, in-process (entry points, imports, every hook), median:")
    for what, ms, n in load:
        print(f"    {what:<14} {n:2d} plugins  {ms:7.1f} ms")
    print()
    print(
        "python -X importtime, `ownscan plugins` with the third-party plugin (top 12, cumulative):"
    )
    for us, name in sorted(imports, reverse=True)[:12]:
        print(f"    {us / 1000:7.1f} ms  {name}")
    for what, rows_ in (("`ownscan plugins`", imports), ("PluginHost() alone", host_imports)):
        loaded = {name.split(".")[0] for _, name in rows_}
        heavy = [h for h in HEAVY if h in loaded]
        print(f"heavy libraries imported by {what}: {', '.join(heavy) or 'none'}")
    mine = sorted((us, n) for us, n in host_imports if n.startswith("ownscan.plugins."))
    if mine:
        print("built-in plugin modules, import time when the host loads them (cumulative):")
        for us, name in reversed(mine):
            print(f"    {us / 1000:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
