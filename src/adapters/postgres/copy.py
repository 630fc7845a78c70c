"""Binary COPY: the fastest way to load rows into PostgreSQL, used by the batch save and
by the benchmark's raw ceiling alike."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from adapters.postgres.rows import Row, column_list, column_types


class _JsonBytesDumper(Dumper):
    """Sends a document's bytes as they are for a json column (psycopg would re-encode)."""

    format = Format.BINARY
    oid = psycopg.postgres.types["json"].oid

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


class _Document:
    """Only a key to register the dumper under; COPY picks dumpers by column type."""


def prepare_ingest_connection(conn: psycopg.Connection[Any]) -> None:
    """Pool ``configure`` hook for the ingest pool. Nothing here may fail on a reachable
    server: a failure would only show as a pool timeout, hiding its reason."""
    conn.adapters.register_dumper(_Document, _JsonBytesDumper)


def copy_rows(
    cur: psycopg.Cursor[Any], table: str, columns: tuple[tuple[str, str], ...], rows: list[Row]
) -> None:
    """Binary COPY of ``rows`` into ``table``."""
    with cur.copy(f"COPY {table} ({column_list(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(column_types(columns))
        for row in rows:
            copy.write_row(row)
