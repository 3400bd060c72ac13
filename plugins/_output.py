"""What the exporters share about their outputs: new files only, each nameless until complete
(:class:`ownscan.core.files.PartFile`), never over an existing name; optional dependencies
with the pip extra that brings them; progress on a terminal and silence in a pipe."""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from ownscan.core.errors import UsageError
from ownscan.core.names import series_stem
from ownscan.core.progress import report_progress, reporter
from ownscan.core.recorded import recorded_warnings, shorten_names, sidecar_path, sidecar_text

__all__ = [
    "check_free_beside",
    "need",
    "new_file",
    "offer_once",
    "progress",
    "recorded_warnings",
    "report_progress",
    "series_stem",
    "shorten_names",
    "write_new",
    "write_warnings_beside",
]

T = TypeVar("T")


def need(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise ImportError saying which pip extra of ownscan brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this export needs {module.split('.')[0]} ({exc}); "
            f'install it with: pip install "ownscan[{extra}]"'
        ) from exc


def new_file(output: Path, suffixes: tuple[str, ...], fmt: str) -> Path:
    """Check ``output`` as the one file a single-file format writes: a free name whose folder
    exists (created if needed), with one of ``suffixes`` (the first is added when it has
    none of them). FileExistsError (nothing is overwritten) or ValueError otherwise."""
    output = Path(output)
    if not output.name.lower().endswith(suffixes):
        output = output.with_name(output.name + suffixes[0])
    if output.is_dir():
        raise UsageError(f"{output}: --output is a folder; the {fmt} format writes one file")
    if output.exists() or output.is_symlink():
        raise FileExistsError(
            errno.EEXIST, "exists; it is not overwritten (choose another name)", str(output)
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


def write_new(path: Path, data: bytes | memoryview) -> Path:
    """Write ``data`` as the new file ``path``: nameless until complete, then linked; raises
    FileExistsError if the name was taken meanwhile (nothing is replaced)."""
    from ownscan.core.files import PartFile

    path = Path(path)
    with PartFile(path.parent) as part:
        part.write(data, 0)
        return part.commit(offer_once(path))


def write_warnings_beside(path: Path, said: Sequence[str]) -> list[Path]:
    """The sidecar ``NAME.warnings.txt`` of the file ``path`` (written) holding ``said`` (the
    series' warnings as :func:`recorded_warnings` gives them), a new file like every output;
    nothing without warnings. For formats with no room for them (STL, WebP, movies): see
    :mod:`ownscan.core.recorded`."""
    if not said:
        return []
    path = Path(path)
    return [write_new(sidecar_path(path), sidecar_text(said, path.name).encode("utf-8"))]


def check_free_beside(path: Path, said: Sequence[str]) -> None:
    """FileExistsError when the sidecar that :func:`write_warnings_beside` would write beside
    ``path`` is taken: said before a slow export, not after its main file was written."""
    side = sidecar_path(Path(path))
    if said and (side.exists() or side.is_symlink()):
        raise FileExistsError(
            errno.EEXIST, "exists; it is not overwritten (choose another name)", str(side)
        )


def offer_once(path: Path) -> Callable[[], Path]:
    """The name function for :meth:`PartFile.commit` that offers ``path`` and nothing else:
    when ``path`` is taken, the commit fails with FileExistsError instead of trying another."""
    offered: list[Path] = []

    def name() -> Path:
        if offered:
            raise FileExistsError(errno.EEXIST, "exists; it is not overwritten", str(path))
        offered.append(path)
        return path

    return name


def progress(items: Iterable[T], total: int, desc: str) -> Iterator[T]:
    """``items`` with a progress bar on a terminal (stderr), silent when stderr is a pipe;
    and counted to the :func:`ownscan.core.progress.report_progress` callback, if one is set."""
    callback = reporter()
    if callback is not None:
        items = _counted(items, total, callback)
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="frame", leave=False, file=sys.stderr)


def _counted(items: Iterable[T], total: int, callback: Callable[[int, int], None]) -> Iterator[T]:
    callback(0, total)
    for n, item in enumerate(items, 1):
        yield item
        callback(n, total)
