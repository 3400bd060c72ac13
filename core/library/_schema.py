"""The SQLite index: schema, versioned with ``PRAGMA user_version`` and a list of migrations.

Migration ``n`` (0-based position in :data:`MIGRATIONS`) takes the schema from version ``n`` to
``n + 1``. Each runs in one transaction together with the new ``user_version``, so an
interrupted upgrade leaves the old version intact. Never edit a released migration: append one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ownscan.core.errors import OwnscanError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SchemaTooNew", "migrate"]

_V1 = """
CREATE TABLE patients (
    key          INTEGER PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    birth_date   TEXT NOT NULL,
    sex          TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_id, name, birth_date)
);
CREATE TABLE studies (
    study_uid        TEXT PRIMARY KEY,
    patient_key      INTEGER NOT NULL REFERENCES patients(key),
    date             TEXT NOT NULL DEFAULT '',
    time             TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    accession_number TEXT NOT NULL DEFAULT ''
);
CREATE INDEX studies_patient ON studies(patient_key);
CREATE TABLE series (
    series_uid   TEXT PRIMARY KEY,
    study_uid    TEXT NOT NULL REFERENCES studies(study_uid),
    number       INTEGER,
    modality     TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    body_part    TEXT NOT NULL DEFAULT '',
    thumbnail    BLOB
);
CREATE INDEX series_study ON series(study_uid);
CREATE TABLE imports (
    id        INTEGER PRIMARY KEY,
    started   TEXT NOT NULL,
    finished  TEXT,
    sources   TEXT NOT NULL DEFAULT '',
    summary   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE instances (
    sop_instance_uid TEXT PRIMARY KEY,
    series_uid       TEXT NOT NULL REFERENCES series(series_uid),
    sop_class_uid    TEXT NOT NULL DEFAULT '',
    instance_number  INTEGER,
    frames           INTEGER NOT NULL DEFAULT 1,
    transfer_syntax  TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    sha256           TEXT NOT NULL,
    size             INTEGER NOT NULL,
    origin           TEXT NOT NULL DEFAULT '',
    import_id        INTEGER REFERENCES imports(id)
);
CREATE INDEX instances_series ON instances(series_uid);
CREATE INDEX instances_sha ON instances(sha256);
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    media_type  TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    size        INTEGER NOT NULL,
    study_uid   TEXT REFERENCES studies(study_uid),
    import_id   INTEGER REFERENCES imports(id),
    origin      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE conflicts (
    sha256           TEXT PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL,
    existing_sha256  TEXT NOT NULL,
    size             INTEGER NOT NULL,
    origin           TEXT NOT NULL DEFAULT '',
    import_id        INTEGER REFERENCES imports(id)
);
-- files whose rows are gone and that must be unlinked (an intent log, see Library.remove)
CREATE TABLE pending_deletes (
    path TEXT PRIMARY KEY
);
"""

# Version 2: registrations that `ownscan compare` computed, so each pair is registered once.
# ``matrix`` is JSON (4 rows of 4, current LPS mm -> prior LPS mm); the digests are those of the
# two series' instances when it was computed (a series that gained or lost images since is
# registered again); ``details`` is the rest of the result as JSON. Removing either series
# removes the row (ON DELETE CASCADE).
_V2 = """
CREATE TABLE registrations (
    prior_series_uid   TEXT NOT NULL REFERENCES series(series_uid) ON DELETE CASCADE,
    current_series_uid TEXT NOT NULL REFERENCES series(series_uid) ON DELETE CASCADE,
    method             TEXT NOT NULL,
    prior_digest       TEXT NOT NULL,
    current_digest     TEXT NOT NULL,
    matrix             TEXT NOT NULL,
    metric             REAL,
    quality            REAL,
    overlap            REAL,
    details            TEXT NOT NULL DEFAULT '{}',
    created            TEXT NOT NULL,
    PRIMARY KEY (prior_series_uid, current_series_uid, method)
);
CREATE INDEX registrations_current ON registrations(current_series_uid);
"""

# Version 3: one person, many hospitals. ``series.institution`` is the Institution Name of the
# series' first image (NULL for rows made before version 3: filled from the stored files the
# first time a timeline asks, see Library.fill_institutions). A person is an index-level link of
# patient rows that the user confirmed are one human being (``person_links``; a patient without
# a link is a person of its own); ``person_rejections`` keeps the proposals the user rejected,
# so they are not proposed again. No stored file is touched; removing a patient removes its
# link and rejections (ON DELETE CASCADE).
_V3 = """
ALTER TABLE series ADD COLUMN institution TEXT;
CREATE TABLE persons (
    key      INTEGER PRIMARY KEY,
    created  TEXT NOT NULL
);
CREATE TABLE person_links (
    patient_key INTEGER PRIMARY KEY REFERENCES patients(key) ON DELETE CASCADE,
    person_key  INTEGER NOT NULL REFERENCES persons(key) ON DELETE CASCADE
);
CREATE INDEX person_links_person ON person_links(person_key);
CREATE TABLE person_rejections (
    patient_a INTEGER NOT NULL REFERENCES patients(key) ON DELETE CASCADE,
    patient_b INTEGER NOT NULL REFERENCES patients(key) ON DELETE CASCADE,
    PRIMARY KEY (patient_a, patient_b),
    CHECK (patient_a < patient_b)
);
"""

# Version 4: series of several stacks (angled lumbar stacks, a three-plane scout, two
# reconstructions under one Series UID). ``series.stacks`` is JSON written at import from series
# assembly (headers only): ``{"version": [images, bytes], "stacks": [{"plane", "images",
# "rows", "columns", "normal"}, ...]}``, so that a library's list shows each stack without
# reading a file. It is valid while the series still holds that many images and bytes; NULL
# (rows made before version 4) or out of date, it is filled from the stored files the first
# time a list asks (``_stacks.fill``), and until then the series is shown as before. A
# registration is of one stack of each series (``prior_stack``, ``current_stack``, from 1; a
# one-stack series is stack 1, as were all registrations kept before), so the table is
# rebuilt with them in its key.
_V4 = """
ALTER TABLE series ADD COLUMN stacks TEXT;
CREATE TABLE registrations_v4 (
    prior_series_uid   TEXT NOT NULL REFERENCES series(series_uid) ON DELETE CASCADE,
    prior_stack        INTEGER NOT NULL DEFAULT 1,
    current_series_uid TEXT NOT NULL REFERENCES series(series_uid) ON DELETE CASCADE,
    current_stack      INTEGER NOT NULL DEFAULT 1,
    method             TEXT NOT NULL,
    prior_digest       TEXT NOT NULL,
    current_digest     TEXT NOT NULL,
    matrix             TEXT NOT NULL,
    metric             REAL,
    quality            REAL,
    overlap            REAL,
    details            TEXT NOT NULL DEFAULT '{}',
    created            TEXT NOT NULL,
    PRIMARY KEY (prior_series_uid, prior_stack, current_series_uid, current_stack, method)
);
INSERT INTO registrations_v4 (prior_series_uid, current_series_uid, method, prior_digest,
    current_digest, matrix, metric, quality, overlap, details, created)
  SELECT prior_series_uid, current_series_uid, method, prior_digest, current_digest, matrix,
    metric, quality, overlap, details, created FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_v4 RENAME TO registrations;
CREATE INDEX registrations_current ON registrations(current_series_uid);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
"""SQL scripts; ``MIGRATIONS[n]`` upgrades schema version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(OwnscanError):
    """The index was written by a newer ownscan than this one."""


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the index up to ``len(migrations)``; return the version found before.

    Parameters
    ----------
    conn
        An open connection in autocommit mode (``isolation_level=None``).
    migrations
        The scripts to apply (tests pass their own list).

    Raises
    ------
    SchemaTooNew
        The index has a higher version than this code knows.
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    target = len(migrations)
    if found > target:
        raise SchemaTooNew(
            f"library index has schema version {found}, this ownscan knows up to {target}; "
            "upgrade ownscan to open it"
        )
    for version in range(found, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migrations[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
