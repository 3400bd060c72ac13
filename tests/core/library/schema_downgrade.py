"""Turn a library's index back into what an older ownscan wrote, to test the upgrade from it.

Each step undoes one migration the way that version's ownscan wrote its tables (checked
against a fresh index made by the older migrations), so the library holds what the previous
version's import made: the same rows, its schema and ``user_version``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ownscan.core.library._schema import MIGRATIONS, _statements, migrate

__all__ = ["downgrade_to_version_3", "undo_version_4"]


def undo_version_4(conn: sqlite3.Connection) -> None:
    """Version 4 -> 3: no ``series.stacks``; registrations without their stacks."""
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("ALTER TABLE series DROP COLUMN stacks")
    # the table as version 2 made it (its own text), filled from version 4's
    (create,) = [t for t in _statements(MIGRATIONS[1]) if "TABLE registrations" in t]
    conn.execute(create.replace("TABLE registrations", "TABLE registrations_v3"))
    conn.execute(
        "INSERT INTO registrations_v3 SELECT prior_series_uid, current_series_uid, method, "
        "prior_digest, current_digest, matrix, metric, quality, overlap, details, created "
        "FROM registrations"
    )
    conn.execute("DROP TABLE registrations")
    conn.execute("ALTER TABLE registrations_v3 RENAME TO registrations")
    conn.execute("CREATE INDEX registrations_current ON registrations(current_series_uid)")
    conn.execute("PRAGMA user_version = 3")


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, list[str]]]:
    tables = sorted(conn.execute("SELECT type, name FROM sqlite_master"))
    return [(t, n, [r[1] for r in conn.execute(f"PRAGMA table_info({n})")]) for t, n in tables]


def downgrade_to_version_3(lib_path: Path) -> None:
    """The index of ``lib_path`` as ownscan with schema version 3 wrote it (checked)."""
    conn = sqlite3.connect(lib_path / "index.sqlite", isolation_level=None)
    undo_version_4(conn)
    mine = _schema(conn)
    conn.close()
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    migrate(fresh, MIGRATIONS[:3])
    assert mine == _schema(fresh)
    fresh.close()
