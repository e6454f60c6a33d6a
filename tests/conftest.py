"""Root fixtures: the real broker and database every integration test uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from syncruntime.settings import KafkaSettings, PostgresSettings

from tests.fixtures.infra import fresh_database, infrastructure


@pytest.fixture(scope="session")
def infra() -> Iterator[tuple[str, str]]:
    with infrastructure() as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def kafka_settings(infra: tuple[str, str]) -> KafkaSettings:
    return KafkaSettings(bootstrap=infra[0])


@pytest.fixture(scope="session")
def base_database_url(infra: tuple[str, str]) -> str:
    return infra[1]


@pytest.fixture
async def database_url(base_database_url: str) -> AsyncIterator[str]:
    """A fresh, fully migrated database for one test."""
    async with fresh_database(base_database_url) as url:
        yield url


@pytest.fixture
def postgres_settings(database_url: str) -> PostgresSettings:
    return PostgresSettings(SYNCLINE_DATABASE_URL=database_url)
