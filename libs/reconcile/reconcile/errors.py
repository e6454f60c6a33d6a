"""The reconcile package's exceptions.

Expected sync outcomes are never raised: `decide` returns them as data. These exceptions are
for the pure translation helpers that connectors and the status API call directly, and tell
the caller what is wrong with its input::

    ReconcileError
    ├── MappingError          a record can't be represented on the target side (per record)
    ├── RemappingError        an admin's field remapping is not allowed (ValueError)
    ├── RecurrenceError       a recurrence rule is invalid or unsupported (ValueError)
    └── UnknownTimeZone       a zone name is neither IANA nor a known Windows name (ValueError)
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Base of every error raised by `reconcile`."""


class MappingError(ReconcileError):
    """A record can't be mapped to the target side; `code` is a stable snake_case reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RemappingError(ReconcileError, ValueError):
    """A field remapping names a fixed, unknown or incompatible field."""


class RecurrenceError(ReconcileError, ValueError):
    """A recurrence pattern or RRULE is invalid, or uses something the other side can't hold."""


class UnknownTimeZone(ReconcileError, ValueError):
    """A time-zone name that is neither an IANA id nor a CLDR-mapped Windows name."""
