"""A local certificate authority for the simulators, so real clients can speak HTTPS to them.

MSAL and the common Salesforce clients refuse plain-HTTP authorities (protocols.md A1), so the
simulators serve TLS with a server certificate issued by a `trustme` CA. The CA is persisted in a
directory so a restarted simulator keeps the same CA and clients that trusted it keep working.

Usage::

    tls = load_or_create_tls(Path("/tmp/syncline-sim-ca"))
    tls.ca_file            # give this to clients (httpx verify=, MSAL verify=, REQUESTS_CA_BUNDLE)
    tls.cert_file, tls.key_file   # give these to uvicorn (see simulators.common.server)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

DEFAULT_HOSTNAMES = ("127.0.0.1", "localhost", "::1")
_CA_CERT = "ca.pem"
_CA_KEY = "ca-key.pem"


def default_tls_dir() -> Path:
    """`SYNCLINE_SIM_TLS_DIR`, else a per-user directory under the system temp dir."""
    configured = os.environ.get("SYNCLINE_SIM_TLS_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"syncline-sim-tls-{os.getuid()}"


@dataclass(frozen=True)
class ServerTLS:
    """Files of a CA and of one server certificate it issued (PEM)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()


def _load_or_create_ca(directory: Path) -> trustme.CA:
    cert_path, key_path = directory / _CA_CERT, directory / _CA_KEY
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="Syncline simulator CA")
    # Write the key first with owner-only permissions; the cert's presence marks completion.
    key_path.write_bytes(ca.private_key_pem.bytes())
    key_path.chmod(0o600)
    cert_path.write_bytes(ca.cert_pem.bytes())
    return ca


def load_or_create_tls(
    directory: Path | None = None, hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES
) -> ServerTLS:
    """Load the CA from `directory` (creating it on first use) and issue a server certificate.

    The server certificate is re-issued on each call (cheap) and written next to the CA as
    `server-<hostnames>.pem` / `-key.pem`; only the CA needs to be stable across restarts.
    """
    directory = directory or default_tls_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = _load_or_create_ca(directory)
    leaf = ca.issue_cert(*hostnames)
    stem = "server-" + "_".join(h.replace(":", "") or "v6" for h in hostnames)
    cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    # The leaf (and any intermediates); clients trust the CA file itself.
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key_file.write_bytes(leaf.private_key_pem.bytes())
    key_file.chmod(0o600)
    return ServerTLS(ca_file=directory / _CA_CERT, cert_file=cert_file, key_file=key_file)
