"""Connection secrets encrypted at rest (MultiFernet): the first key encrypts, every key decrypts.

Keys come from `SYNCLINE_ENCRYPTION_KEYS`; rotating means putting a new key first, then running
`syncline admin rotate-secrets`, then dropping the old key. Plaintext secrets never leave this
module except towards the remote system they authenticate to; they are never returned by the API
and never logged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from status_api.errors import SecretUnavailable


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (so rows can say which key encrypted them)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [k.strip() for k in keys if k.strip()]
        self._fernet = MultiFernet([Fernet(k) for k in self._keys]) if self._keys else None

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls(value.split(","))

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    @property
    def primary_key_id(self) -> str:
        if not self._keys:
            raise SecretUnavailable("no encryption key configured (SYNCLINE_ENCRYPTION_KEYS)")
        return key_id(self._keys[0])

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretUnavailable("no encryption key configured (SYNCLINE_ENCRYPTION_KEYS)")
        return self._fernet

    def seal(self, secret: Mapping[str, str]) -> tuple[bytes, str]:
        """Encrypt a secret document; returns (ciphertext, id of the encrypting key)."""
        token = self._require().encrypt(json.dumps(dict(secret), sort_keys=True).encode())
        return token, self.primary_key_id

    def open(self, ciphertext: bytes) -> dict[str, str]:
        try:
            plain = self._require().decrypt(ciphertext)
        except InvalidToken as exc:
            raise SecretUnavailable(
                "stored secret cannot be decrypted with the configured keys"
            ) from exc
        value: dict[str, str] = json.loads(plain)
        return value

    def rotate(self, ciphertext: bytes) -> tuple[bytes, str]:
        """Re-encrypt under the primary key (MultiFernet.rotate keeps the original timestamp)."""
        try:
            return self._require().rotate(ciphertext), self.primary_key_id
        except InvalidToken as exc:
            raise SecretUnavailable(
                "stored secret cannot be decrypted with the configured keys"
            ) from exc
