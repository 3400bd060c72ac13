"""What the library commands share: ``--library``, opening it, sizes, progress."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ownscan.core.library import Library

__all__ = ["Progress", "add_library_argument", "human_size", "open_from_args"]


def add_library_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library",
        metavar="DIR",
        help="the library folder (default: $OWNSCAN_LIBRARY, else the user data folder)",
    )


def open_from_args(
    args: argparse.Namespace, create: bool = False, read_only: bool = False
) -> Library:
    """The library of ``--library`` (or the default one); ``read_only`` for commands that only
    read, so that a library on a read-only disc or share can be listed."""
    from ownscan.core.library import open_library

    return open_library(args.library, create=create, read_only=read_only)


def human_size(n: float) -> str:
    """``1536`` -> ``1.5 kB`` (decimal units, as file managers show)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


class Progress:
    """A tqdm bar (counts and MB/s) on a terminal; nothing (callers print lines) otherwise."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "B") -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.bar: Any = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                desc=desc,
                total=total,
                unit=unit,
                unit_scale=True,
                unit_divisor=1000,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def update(self, n: int, **counts: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if counts:
                self.bar.set_postfix(counts, refresh=False)

    def write(self, line: str) -> None:
        """A line above the bar (or plainly, without a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
