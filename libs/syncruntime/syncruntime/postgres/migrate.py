"""`syncline migrate`: apply every alembic migration head to the configured database.

Migrations are plain SQL in alembic revisions; services that own tables add their own branch
off the core revision "0001", which is why we upgrade to `heads`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from syncruntime.settings import PostgresSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlalchemy_url(url: str) -> str:
    """alembic talks through SQLAlchemy + psycopg 3; services use asyncpg with the plain URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(url), target)


def main(argv: Sequence[str] = ()) -> int:
    target = argv[0] if argv else "heads"
    settings = PostgresSettings()
    upgrade(settings.url, target)
    print(f"database migrated to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
