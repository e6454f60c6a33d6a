"""The status API's exception tree; each maps to one HTTP status in `main.py`.

StatusApiError
├── NotFound            404 — also what a caller gets for another tenant's resources
├── Conflict            409 — uniqueness, state that forbids the change
├── Invalid             422 — semantically invalid input that pydantic could not catch
└── SecretUnavailable   503 — encryption keys missing or unable to decrypt
"""

from __future__ import annotations


class StatusApiError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(StatusApiError):
    status_code = 404
    code = "not_found"


class Conflict(StatusApiError):
    status_code = 409
    code = "conflict"


class Invalid(StatusApiError):
    status_code = 422
    code = "invalid"


class SecretUnavailable(StatusApiError):
    status_code = 503
    code = "secret_unavailable"
