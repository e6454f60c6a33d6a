"""The whole system as separate processes: simulators, status API, reconciler, connectors.

A test drives it only through the simulators' public APIs (as reps editing Outlook and
Salesforce would) and the status API (as an admin would), and reads results back through the
simulators' inspection API.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from syncline_cli.devstack import Stack
from syncline_cli.processes import Service, wait_for

REPO = Path(__file__).resolve().parents[2]
# SYNCLINE_E2E_LOG_DIR: a private log/CA directory, so that two e2e runs on one machine (each
# against its own broker) do not wipe each other's CA and logs.
LOGS = Path(os.environ.get("SYNCLINE_E2E_LOG_DIR") or REPO / ".local" / "e2e")

__all__ = ["LOGS", "REPO", "GraphRep", "SalesforceRep", "System", "wait_for"]


@dataclass
class SalesforceRep:
    """Acts in the Salesforce simulator the way a rep's browser would (REST with a session)."""

    http: httpx.AsyncClient
    instance_url: str
    token: str
    api: str = "v62.0"

    @property
    def base(self) -> str:
        return f"{self.instance_url}/services/data/{self.api}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def create(self, sobject: str, fields: dict[str, Any]) -> str:
        r = await self.http.post(
            f"{self.base}/sobjects/{sobject}", json=fields, headers=self._headers()
        )
        r.raise_for_status()
        return str(r.json()["id"])

    async def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        r = await self.http.patch(
            f"{self.base}/sobjects/{sobject}/{record_id}", json=fields, headers=self._headers()
        )
        r.raise_for_status()

    async def delete(self, sobject: str, record_id: str) -> None:
        r = await self.http.delete(
            f"{self.base}/sobjects/{sobject}/{record_id}", headers=self._headers()
        )
        r.raise_for_status()

    async def query(self, soql: str) -> list[dict[str, Any]]:
        r = await self.http.get(f"{self.base}/query", params={"q": soql}, headers=self._headers())
        r.raise_for_status()
        return list(r.json()["records"])


@dataclass
class GraphRep:
    """Acts on a mailbox in the Graph simulator the way Outlook would."""

    http: httpx.AsyncClient
    graph: str
    token: str
    upn: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def sync_folder_id(self) -> str:
        r = await self.http.get(
            f"{self.graph}/users/{self.upn}/contactFolders", headers=self._headers()
        )
        r.raise_for_status()
        for folder in r.json()["value"]:
            if folder["displayName"] == "Salesforce_Sync":
                return str(folder["id"])
        raise AssertionError(f"no Salesforce_Sync folder in {self.upn}")

    async def contacts(self) -> list[dict[str, Any]]:
        folder = await self.sync_folder_id()
        r = await self.http.get(
            f"{self.graph}/users/{self.upn}/contactFolders/{folder}/contacts",
            params={"$top": "999"},
            headers=self._headers(),
        )
        r.raise_for_status()
        return list(r.json()["value"])

    async def create_contact(self, body: dict[str, Any]) -> str:
        folder = await self.sync_folder_id()
        r = await self.http.post(
            f"{self.graph}/users/{self.upn}/contactFolders/{folder}/contacts",
            json=body,
            headers=self._headers(),
        )
        r.raise_for_status()
        return str(r.json()["id"])

    async def update_contact(self, contact_id: str, body: dict[str, Any]) -> None:
        r = await self.http.patch(
            f"{self.graph}/users/{self.upn}/contacts/{contact_id}",
            json=body,
            headers=self._headers(),
        )
        r.raise_for_status()

    async def delete_contact(self, contact_id: str) -> None:
        r = await self.http.delete(
            f"{self.graph}/users/{self.upn}/contacts/{contact_id}", headers=self._headers()
        )
        r.raise_for_status()

    async def events(self) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.graph}/users/{self.upn}/events", params={"$top": "999"}, headers=self._headers()
        )
        r.raise_for_status()
        return list(r.json()["value"])

    async def create_event(self, body: dict[str, Any]) -> str:
        r = await self.http.post(
            f"{self.graph}/users/{self.upn}/events", json=body, headers=self._headers()
        )
        r.raise_for_status()
        return str(r.json()["id"])

    async def update_event(self, event_id: str, body: dict[str, Any]) -> None:
        r = await self.http.patch(
            f"{self.graph}/users/{self.upn}/events/{event_id}", json=body, headers=self._headers()
        )
        r.raise_for_status()

    async def delete_event(self, event_id: str) -> None:
        r = await self.http.delete(
            f"{self.graph}/users/{self.upn}/events/{event_id}", headers=self._headers()
        )
        r.raise_for_status()

    async def instances(self, event_id: str, start: str, end: str) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.graph}/users/{self.upn}/events/{event_id}/instances",
            params={"startDateTime": start, "endDateTime": end},
            headers=self._headers(),
        )
        r.raise_for_status()
        return list(r.json()["value"])


@dataclass
class System:
    """The running stack plus the reps' identities, as the tests see it."""

    stack: Stack
    reps: dict[str, str] = field(default_factory=dict)
    """rep e-mail -> Salesforce user id"""

    @property
    def tenant(self) -> str:
        return self.stack.tenant

    @property
    def salesforce_credentials(self) -> dict[str, Any]:
        return self.stack.salesforce_credentials

    @property
    def graph_credentials(self) -> dict[str, Any]:
        return self.stack.graph_credentials

    @property
    def services(self) -> dict[str, Service]:
        return self.stack.services

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=self.stack.tls(), timeout=30)

    def api(self) -> httpx.AsyncClient:
        return self.stack.api()

    async def salesforce_rep(
        self, http: httpx.AsyncClient, username: str | None = None
    ) -> SalesforceRep:
        creds = self.salesforce_credentials
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": creds["client_id"],
                "sub": username or creds["username"],
                "aud": creds["login_url"],
                "exp": now + 180,
            },
            creds["private_key_pem"],
            algorithm="RS256",
        )
        r = await http.post(
            f"{creds['login_url']}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        r.raise_for_status()
        body = r.json()
        return SalesforceRep(http, body["instance_url"], body["access_token"])

    async def graph_rep(self, http: httpx.AsyncClient, upn: str) -> GraphRep:
        creds = self.graph_credentials
        r = await http.post(
            f"{creds['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "scope": creds["scope"],
            },
        )
        r.raise_for_status()
        return GraphRep(http, creds["graph_base_url"], r.json()["access_token"], upn)

    async def configure(self, name: str, settings: dict[str, Any], users: list[str]) -> str:
        """Create an active configuration and assign it to these reps (by e-mail)."""
        async with self.api() as api:
            r = await api.post(
                "/configurations",
                json={
                    "name": f"{name}-{uuid.uuid4().hex[:6]}",
                    "active": True,
                    "settings": settings,
                },
            )
            r.raise_for_status()
            configuration_id = str(r.json()["id"])
            for email in users:
                r = await api.put(
                    f"/configurations/{configuration_id}/assignments/user/{self.reps[email]}"
                )
                r.raise_for_status()
            for email in users:
                await self._until_syncing(api, self.reps[email])
        return configuration_id

    async def _until_syncing(self, api: httpx.AsyncClient, user_id: str) -> None:
        """Wait until the reconciler has the rep on its roster: what a rep does from then on
        happens after their sync started (LS-31 tells older Salesforce events apart)."""
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            r = await api.get(f"/users/{user_id}")
            r.raise_for_status()
            if r.json()["user"]["link_state"] != "not_linked":
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{user_id} is still not syncing: {r.json()['user']}")
            await asyncio.sleep(0.2)


def now_iso(offset: dt.timedelta = dt.timedelta()) -> str:
    return (dt.datetime.now(dt.UTC) + offset).isoformat()
