"""How this API writes times and bytes: UTC timestamps to the second, and base64url.

Standard library only, so any module may use it without loading anything else.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime


def utc_now() -> str:
    """Now, as ISO 8601 in UTC to the second: ``2026-12-02T20:14:17Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now_precise() -> str:
    """Now, as ISO 8601 in UTC to the microsecond: ``2026-12-02T20:14:17.042917Z``. It sorts
    with ``utc_now()``'s of other seconds as the times do (within one second, before it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), as JWTs and this API's opaque tokens write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
