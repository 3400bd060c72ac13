"""The stacks of each series, recorded in the index (schema version 4, ``series.stacks``).

One Series Instance UID can hold several stacks that series assembly shows one by one (angled
lumbar stacks, a three-plane scout, two reconstructions under one UID; ``UID~N`` on the page,
:mod:`ownscan.core._stacks`). A library's list reads no files, so what it needs to show a card
per stack (how many, each one's plane, size and image count) is written at import, from the
series' headers (never the pixels), beside the image count and bytes it was made from: a series
that gained or lost images since is out of date and made again.

Rows indexed before version 4 have none. They are filled the first time a list asks while no
other writer holds the library (:meth:`Library.series`), each series in its own transaction, so
a fill that is killed keeps what it stored and the rest is filled the next time; until then
the series is listed as before, one entry.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ownscan.core._stacks import stack_plane, stacks_of, words
from ownscan.core.library._model import SeriesWarnings, StackInfo

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ownscan.core.assembly import Assembly, Series
    from ownscan.core.library._index import Index
    from ownscan.core.plugin_types import SourceItem
    from ownscan.core.volume import Volume

log = logging.getLogger(__name__)

__all__ = [
    "check_stack",
    "fill",
    "load_stack",
    "recorded",
    "recorded_stacks",
    "stack_items",
    "stacks",
    "touched",
]


def recorded_stacks(text: str | None, images: int, size: int) -> tuple[StackInfo, ...] | None:
    """The stacks recorded in ``series.stacks`` (``text``), or None when none are recorded or
    they were made for another content of the series (``images`` files, ``size`` bytes)."""
    if not text:
        return None
    try:
        found = json.loads(text)
        if found.get("version") != [images, size]:
            return None
        return _infos(found["stacks"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # written by something else: made again


def _infos(listed: list[dict[str, Any]]) -> tuple[StackInfo, ...]:
    """:class:`StackInfo` of each stack :func:`_describe` listed (as recorded or made now)."""
    count = len(listed)
    return tuple(
        StackInfo(
            number=n,
            plane=str(s["plane"]),
            images=int(s["images"]),
            rows=int(s["rows"]),
            columns=int(s["columns"]),
            label=words(str(s["plane"]), n, count, int(s["images"])),
            normal=(float(x), float(y), float(z)),
        )
        for n, s in enumerate(listed, 1)
        for x, y, z in [s["normal"]]
    )


def _describe(assembly: Assembly) -> list[dict[str, Any]]:
    """Each stack of a series as series assembly made it (``assembly``, from the stored
    headers), in the order ``UID~N`` numbers them."""
    stacks = stacks_of(assembly.series)
    out = []
    for s in stacks:
        _, rows, columns = s.shape
        normal = [round(float(v), 5) for v in s.direction[:, 2]]
        out.append(
            {
                "plane": stack_plane(s),
                "images": s.n_images,
                "rows": rows,
                "columns": columns,
                "normal": normal,
            }
        )
    return out


def touched(index: Index, import_id: int) -> list[str]:
    """The series that import ``import_id`` added an image to."""
    return [
        str(r[0])
        for r in index.conn.execute(
            "SELECT DISTINCT series_uid FROM instances WHERE import_id = ?", (import_id,)
        )
    ]


def fill(
    index: Index,
    series_uids: Iterable[str],
    warnings: dict[str, list[SeriesWarnings]] | None = None,
) -> int:
    """Record the stacks of these series (the caller holds the writer's lock); return how
    many were recorded. A series that cannot be assembled now (a file unreadable) is recorded
    with what assembly found, as the viewer would show it.

    ``warnings``, when given, receives what the same assembly says of each series assembled
    (every picture of it, in assembly's order, as ``info`` lists them): the import's caller
    tells the patient without assembling the series a second time."""
    from ownscan.core.errors import OwnscanError

    done = 0
    for uid in series_uids:
        row = index.conn.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM instances WHERE series_uid = ?", (uid,)
        ).fetchone()
        try:
            assembly = index.assemble(uid)
            if warnings is not None:
                warnings[uid] = [
                    SeriesWarnings(uid, s.label, tuple(s.files), tuple(s.warnings))
                    for s in assembly.series
                ]
            stacks = _describe(assembly)
        except (OwnscanError, OSError, ValueError):
            stacks = []  # nothing assembly can show: listed as one entry, as before
        except Exception:
            # an import is committed before this: a file assembly trips on (its viewer
            # says why) leaves the series listed as one entry rather than fail the import
            log.warning("stacks of series %s not recorded", uid, exc_info=True)
            stacks = []
        text = json.dumps({"version": [int(row[0]), int(row[1])], "stacks": stacks})
        index.conn.execute("UPDATE series SET stacks = ? WHERE series_uid = ?", (text, uid))
        done += 1
    return done


def stacks(index: Index, series_uid: str) -> tuple[StackInfo, ...]:
    """The stacks of a series in ``UID~N`` order (one for a series of one stack): as the
    index recorded them, else as series assembly makes them now from the stored headers (a
    read-only library of version 3, a series changed since)."""
    found = recorded(index, series_uid)
    return found if found is not None else _infos(_describe(index.assemble(series_uid)))


def _count(index: Index, series_uid: str) -> int:
    """How many stacks the series has: as recorded, else as assembly makes them now."""
    found = recorded(index, series_uid)
    return len(found) if found is not None else len(stacks_of(index.assemble(series_uid).series))


def recorded(index: Index, series_uid: str) -> tuple[StackInfo, ...] | None:
    """The stacks the index recorded for this series, if up to date."""
    if index.schema < 4:  # a read-only index of version 3 recorded none
        return None
    row = index.conn.execute(
        """SELECT se.stacks, count(i.sop_instance_uid), coalesce(sum(i.size), 0)
           FROM series se LEFT JOIN instances i USING (series_uid) WHERE se.series_uid = ?
           GROUP BY se.series_uid""",
        (series_uid,),
    ).fetchone()
    return recorded_stacks(row[0], row[1], row[2]) if row else None


def check_stack(index: Index, series_uid: str, number: int) -> None:
    """Refuse stack ``number`` of a series that does not have it, naming those it has."""
    from ownscan.core.library._model import LibraryError

    count = _count(index, series_uid)
    if not (count > 1 and 1 <= number <= count):
        have = f"stacks 1..{count}" if count > 1 else "one stack (name it without ~N)"
        raise LibraryError(f"{index.root}: no stack {number} in series {series_uid}; it has {have}")


def _stack(index: Index, series_uid: str, number: int) -> Series:
    """Stack ``number`` (from 1) of a series of several, as the page's ``UID~N`` shows it."""
    from ownscan.core.errors import OwnscanError
    from ownscan.core.library._model import LibraryError

    try:
        stacks = stacks_of(index.assemble(series_uid).series)
    except LibraryError:
        raise
    except OwnscanError as exc:
        raise LibraryError(f"series {series_uid} in {index.root}: {exc}") from exc
    if not (len(stacks) > 1 and 1 <= number <= len(stacks)):
        have = f"stacks 1..{len(stacks)}" if len(stacks) > 1 else "one stack"
        raise LibraryError(f"{index.root}: no stack {number} in series {series_uid}; it has {have}")
    return stacks[number - 1]


def stack_items(index: Index, series_uid: str, number: int) -> list[SourceItem]:
    """The stored files of stack ``number`` of a series of several (a file that holds frames
    of two stacks is in both)."""
    files = set(_stack(index, series_uid, number).files)
    return [item for item in index.series_items(series_uid) if item.origin in files]


def load_stack(index: Index, series_uid: str, number: int) -> Volume:
    """Stack ``number`` (from 1) of a series of several, loaded."""
    from ownscan.core.errors import OwnscanError
    from ownscan.core.library._model import LibraryError

    stack = _stack(index, series_uid, number)
    try:
        return stack.load()
    except OwnscanError as exc:
        raise LibraryError(f"series {series_uid}~{number} in {index.root}: {exc}") from exc
