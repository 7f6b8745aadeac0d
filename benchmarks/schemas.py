"""A PostgreSQL schema of a benchmark's own, so that a run never writes into the database's
public schema (where the test suite's and other benchmarks' tables would meet it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, text

from core.db.session import create_engine_for


def in_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` as its search path (every table is made and read there)."""
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it, if it is there."""
    admin = create_engine_for(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def create_schema(url: str, schema: str, *, fresh: bool) -> str:
    """Make ``schema`` (dropped first when ``fresh``); the URL that works in it."""
    admin = create_engine_for(url)
    try:
        with admin.begin() as connection:
            if fresh:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        admin.dispose()
    return in_schema(url, schema)


@contextmanager
def scratch_schema(url: str, schema: str) -> Iterator[str]:
    """A fresh ``schema`` for the length of the block, dropped after it: the URL in it."""
    scoped = create_schema(url, schema, fresh=True)
    try:
        yield scoped
    finally:
        drop_schema(url, schema)
