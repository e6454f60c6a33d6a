"""`syncline admin`: bootstrap a tenant (printing its first admin key once), issue keys, and
re-encrypt stored secrets under the newest key (`rotate-secrets`)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence

import asyncpg
from syncruntime.settings import PostgresSettings

from status_api.crypto import SecretBox
from status_api.errors import SecretUnavailable
from status_api.schemas import ID_PATTERN
from status_api.security import Scope, store_api_key
from status_api.settings import StatusApiSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncline admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-tenant", help="create a tenant and print its first admin key")
    create.add_argument("--id", required=True)
    create.add_argument("--name", required=True)
    key = sub.add_parser("create-key", help="issue an API key for a tenant (printed once)")
    key.add_argument("--tenant", required=True)
    key.add_argument("--name", required=True)
    key.add_argument("--scope", choices=[s.value for s in Scope], default=Scope.READ.value)
    sub.add_parser("rotate-secrets", help="re-encrypt connection secrets with the first key")
    return parser


async def create_tenant(url: str, tenant_id: str, name: str) -> str:
    if not re.fullmatch(ID_PATTERN, tenant_id):
        raise ValueError(f"tenant id must match {ID_PATTERN}")
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            try:
                await conn.execute(
                    "INSERT INTO tenants (id, name) VALUES ($1, $2)", tenant_id, name
                )
            except asyncpg.UniqueViolationError as exc:
                raise ValueError(f"tenant {tenant_id!r} already exists") from exc
            key, _ = await store_api_key(conn, tenant_id, "bootstrap admin key", Scope.ADMIN)
    finally:
        await conn.close()
    return key.token


async def create_key(url: str, tenant_id: str, name: str, scope: Scope) -> str:
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id) is None:
            raise ValueError(f"tenant {tenant_id!r} does not exist")
        key, _ = await store_api_key(conn, tenant_id, name, scope)
    finally:
        await conn.close()
    return key.token


async def rotate_secrets(url: str, box: SecretBox) -> int:
    """Re-encrypt every stored secret under the primary key; returns how many rows changed."""
    conn = await asyncpg.connect(url)
    rotated = 0
    try:
        async with conn.transaction():
            rows = await conn.fetch(
                "SELECT tenant_id, kind, secret_ciphertext, secret_key_id FROM connections"
                " WHERE secret_ciphertext IS NOT NULL FOR UPDATE"
            )
            for row in rows:
                if row["secret_key_id"] == box.primary_key_id:
                    continue
                ciphertext, key_id = box.rotate(row["secret_ciphertext"])
                await conn.execute(
                    "UPDATE connections SET secret_ciphertext = $3, secret_key_id = $4"
                    " WHERE tenant_id = $1 AND kind = $2",
                    row["tenant_id"],
                    row["kind"],
                    ciphertext,
                    key_id,
                )
                rotated += 1
    finally:
        await conn.close()
    return rotated


def main(argv: Sequence[str] = ()) -> int:
    args = _parser().parse_args(list(argv))
    url = PostgresSettings().url
    try:
        if args.command == "create-tenant":
            token = asyncio.run(create_tenant(url, args.id, args.name))
            print(f"tenant {args.id} created. Admin API key (shown once, store it now):")
            print(token)
        elif args.command == "create-key":
            token = asyncio.run(create_key(url, args.tenant, args.name, Scope(args.scope)))
            print(token)
        else:
            box = SecretBox.from_setting(StatusApiSettings().encryption_keys)
            count = asyncio.run(rotate_secrets(url, box))
            print(f"re-encrypted {count} connection secret(s) with key {box.primary_key_id}")
    except (ValueError, SecretUnavailable) as exc:
        print(f"syncline admin: {exc}", file=sys.stderr)
        return 1
    return 0
