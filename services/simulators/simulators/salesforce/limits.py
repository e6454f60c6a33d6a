"""The org's daily API allocation: counted per call, reported in `Sforce-Limit-Info` (C3, C11).

Every authenticated REST call counts one (Collections and Composite too: one call each). When
the allocation is spent the API answers 403 `REQUEST_LIMIT_EXCEEDED` with no `Retry-After`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from simulators.salesforce.errors import ApiError


@dataclass
class ApiUsage:
    allocation: int = 100_000
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def header(self) -> str:
        return f"api-usage={self.used}/{self.allocation}"

    def spend(self) -> None:
        """Count one call, or refuse it when the rolling 24 h allocation is spent."""
        with self._lock:
            if self.used >= self.allocation:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.used += 1

    def limits_body(self) -> dict[str, Any]:
        """`GET /limits`: the entries connectors look at, in the real response's shape."""
        return {
            "DailyApiRequests": {"Max": self.allocation, "Remaining": self.remaining()},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "HourlyPublishedStandardVolumePlatformEvents": {"Max": 100000, "Remaining": 100000},
        }

    def remaining(self) -> int:
        return max(0, self.allocation - self.used)
