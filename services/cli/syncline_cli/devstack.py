"""The whole system on one machine: both simulators, a tenant, and every service as a process.

Used by `syncline dev` (what `make run` starts) and by the end-to-end tests, so that the demo and
the tests exercise the very same wiring: the connectors get the simulators' published
credentials (`/_sim/credentials`) exactly as a real deployment gets Entra ID's and Salesforce's.

With `ews_domain` set, the EWS simulator (on-premises Exchange) runs too and the exchange connector
runs in `hybrid` mode (issue #10): reps whose e-mail domain is `ews_domain` have their mailbox in
the EWS simulator and sync over EWS with the service account, everyone else over Graph.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from syncline_cli.processes import Service, free_port, wait_http

SERVICES = ("status-api", "reconciler", "salesforce-connector", "exchange-connector")


@dataclass
class Stack:
    tenant: str
    database_url: str
    bootstrap: str
    log_dir: Path
    graph_port: int = field(default_factory=free_port)
    salesforce_port: int = field(default_factory=free_port)
    ews_port: int = field(default_factory=free_port)
    ews_domain: str | None = None
    """The e-mail domain served by on-premises Exchange (EWS simulator); None: Graph only."""
    api_port: int = field(default_factory=free_port)
    poll_s: float = 1.0
    services: dict[str, Service] = field(default_factory=dict)
    graph_credentials: dict[str, Any] = field(default_factory=dict)
    salesforce_credentials: dict[str, Any] = field(default_factory=dict)
    ews_credentials: dict[str, Any] = field(default_factory=dict)
    admin_key: str = ""

    @property
    def graph_url(self) -> str:
        return f"https://127.0.0.1:{self.graph_port}"

    @property
    def salesforce_url(self) -> str:
        return f"https://127.0.0.1:{self.salesforce_port}"

    @property
    def ews_base_url(self) -> str:
        return f"https://127.0.0.1:{self.ews_port}"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ca_file(self) -> Path:
        return self.log_dir / "ca.pem"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _service(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Service:
        service = Service(name, args, env or {}, self.log_dir)
        self.services[name] = service
        return service

    async def start_simulators(self) -> None:
        tls_dir = str(self.log_dir / "tls")
        self._service(
            "sim-graph", ["sim", "graph", "--port", str(self.graph_port), "--tls-dir", tls_dir]
        ).start()
        # The CA is not known yet: the first fetch of the credentials is what publishes it. The
        # first simulator up creates the CA in `tls_dir`; the others only start once it exists,
        # or two of them could each create their own CA at the same moment.
        await wait_http(f"{self.graph_url}/_sim/credentials", "the Graph simulator", verify=False)
        self._service(
            "sim-salesforce",
            ["sim", "salesforce", "--port", str(self.salesforce_port), "--tls-dir", tls_dir],
        ).start()
        if self.ews_domain:
            # --reps 0: no demo mailboxes; seed_reps adds the reps' own.
            self._service(
                "sim-ews",
                ["sim", "ews", "--port", str(self.ews_port), "--tls-dir", tls_dir, "--reps", "0"],
            ).start()
        await wait_http(
            f"{self.salesforce_url}/_sim/credentials", "the Salesforce simulator", verify=False
        )
        async with httpx.AsyncClient(verify=False, timeout=30) as http:  # noqa: S501 - CA bootstrap
            self.graph_credentials = (await http.get(f"{self.graph_url}/_sim/credentials")).json()
            self.salesforce_credentials = (
                await http.get(f"{self.salesforce_url}/_sim/credentials")
            ).json()
        self.ca_file.write_text(self.graph_credentials["ca_certificate_pem"])
        if self.salesforce_credentials["ca_pem"] != self.graph_credentials["ca_certificate_pem"]:
            raise RuntimeError("the simulators must share one CA (same --tls-dir)")
        (self.log_dir / "sf-key.pem").write_text(self.salesforce_credentials["private_key_pem"])
        if self.ews_domain:
            url = f"{self.ews_base_url}/_sim/credentials"
            await wait_http(url, "the EWS simulator", verify=self.tls())
            async with httpx.AsyncClient(verify=self.tls(), timeout=30) as http:
                self.ews_credentials = (await http.get(url)).json()

    def on_ews(self, email: str) -> bool:
        """Whether this rep's mailbox is on premises (EWS) rather than in Exchange Online."""
        domain = email.rsplit("@", 1)[-1].lower()
        return self.ews_domain is not None and domain == self.ews_domain.lower()

    async def seed_reps(
        self,
        emails: list[str],
        *,
        contacts: int = 0,
        leads: int = 0,
        meetings: int = 0,
        time_zones: dict[str, str] | None = None,
    ) -> None:
        """The same reps in both simulators: Salesforce users and Exchange mailboxes (Graph users,
        or EWS mailboxes with the service account's impersonation right for `ews_domain`)."""
        async with httpx.AsyncClient(verify=self.tls(), timeout=60) as http:
            r = await http.post(
                f"{self.salesforce_url}/_sim/seed",
                json={
                    "reps": len(emails),
                    "rep_emails": emails,
                    "contacts_per_rep": contacts,
                    "leads_per_rep": leads,
                    "meetings_per_rep": meetings,
                    "accounts": 5,
                },
            )
            r.raise_for_status()
            for email in emails:
                if self.on_ews(email):
                    # The connector creates Salesforce_Sync itself, as with Graph (LS-22).
                    r = await http.post(
                        f"{self.ews_base_url}/_sim/mailboxes",
                        json={"smtp": email, "impersonable": True, "sync_folder": False},
                    )
                    r.raise_for_status()
                    continue
                body = {"upn": email}
                if time_zones and email in time_zones:
                    body["time_zone"] = time_zones[email]  # a Windows zone name, as Graph has it
                r = await http.post(f"{self.graph_url}/_sim/users", json=body)
                r.raise_for_status()

    def create_tenant(self, name: str) -> str:
        result = subprocess.run(  # noqa: S603 - our own CLI, arguments we build
            [
                sys.executable,
                "-m",
                "syncline_cli.main",
                "admin",
                "create-tenant",
                "--id",
                self.tenant,
                "--name",
                name,
            ],
            env={"SYNCLINE_DATABASE_URL": self.database_url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        self.admin_key = next(w for w in result.stdout.split() if w.startswith("slk_"))
        return self.admin_key

    def service_env(self) -> dict[str, dict[str, str]]:
        common = {
            "SYNCLINE_DATABASE_URL": self.database_url,
            "SYNCLINE_KAFKA_BOOTSTRAP": self.bootstrap,
        }
        graph, sf = self.graph_credentials, self.salesforce_credentials
        return {
            "status-api": common
            | {
                "SYNCLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "SYNCLINE_CA_BUNDLE": str(self.ca_file),
            },
            "reconciler": common,
            "salesforce-connector": common
            | {
                "SYNCLINE_SALESFORCE_TENANT": self.tenant,
                "SYNCLINE_SALESFORCE_LOGIN_URL": sf["login_url"],
                "SYNCLINE_SALESFORCE_CLIENT_ID": sf["client_id"],
                "SYNCLINE_SALESFORCE_USERNAME": sf["username"],
                "SYNCLINE_SALESFORCE_PRIVATE_KEY_FILE": str(self.log_dir / "sf-key.pem"),
                "SYNCLINE_SALESFORCE_CA_BUNDLE": str(self.ca_file),
                "SYNCLINE_SALESFORCE_POLL_INTERVAL_S": str(self.poll_s),
                "SYNCLINE_SALESFORCE_OVERLAP_S": "5",
            },
            "exchange-connector": common
            | {
                "SYNCLINE_EXCHANGE_TENANT": self.tenant,
                "SYNCLINE_EXCHANGE_AUTHORITY": graph["authority"],
                "SYNCLINE_EXCHANGE_CLIENT_ID": graph["client_id"],
                "SYNCLINE_EXCHANGE_CLIENT_SECRET": graph["client_secret"],
                "SYNCLINE_EXCHANGE_GRAPH_BASE_URL": graph["graph_base_url"],
                "SYNCLINE_EXCHANGE_CA_BUNDLE": str(self.ca_file),
                "SYNCLINE_EXCHANGE_INSTANCE_DISCOVERY": "false",
                "SYNCLINE_EXCHANGE_POLL_MIN_S": str(self.poll_s),
                "SYNCLINE_EXCHANGE_POLL_MAX_S": str(self.poll_s * 3),
            }
            | self.ews_env(),
        }

    def ews_env(self) -> dict[str, str]:
        """The hybrid method's settings (exchange_connector.ews.settings), when EWS is on."""
        if not self.ews_domain:
            return {}
        ews = self.ews_credentials
        return {
            "SYNCLINE_EXCHANGE_METHOD": "hybrid",
            "SYNCLINE_EXCHANGE_EWS_DOMAINS": self.ews_domain,
            "SYNCLINE_EXCHANGE_EWS_URL": ews["ews_url"],
            "SYNCLINE_EXCHANGE_EWS_USERNAME": ews["username"],
            "SYNCLINE_EXCHANGE_EWS_PASSWORD": ews["password"],
            # NTLM, as most on-premises Exchange servers are set up (LS-61).
            "SYNCLINE_EXCHANGE_EWS_AUTH": "ntlm",
        }

    async def start_services(self) -> None:
        envs = self.service_env()
        for name in SERVICES:
            args = [name, "--port", str(self.api_port)] if name == "status-api" else [name]
            self._service(name, args, envs[name]).start()
        await wait_http(f"{self.status_url}/healthz", "the status API")

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.status_url}/v1/tenants/{self.tenant}",
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=30,
        )

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
