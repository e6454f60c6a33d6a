"""The simulator's API errors, rendered as Salesforce's error body (protocols.md C3)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the REST API answers with `[{"message","errorCode","fields"}]`."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def collection_error(self) -> dict[str, Any]:
        """The sObject Collections shape: `statusCode`, not `errorCode` (C6)."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields or []}


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def malformed_id(value: str, fields: list[str] | None = None) -> ApiError:
    return ApiError(400, "MALFORMED_ID", f"malformed id {value}", fields or [])
