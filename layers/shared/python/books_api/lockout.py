"""Failed-login lockout per username, in the tokens table (``LOCK#<username>``, expiring by TTL).

After ``threshold`` failures within ``window_seconds`` the username is locked for a wait that
starts at ``base_seconds`` and doubles with each further lockout up to ``max_seconds``, as
Cognito does. While locked every attempt is a 429, the right password included, and does not
count. A success clears the record. Unknown usernames are tracked exactly like known ones.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from books_api import aws
from books_api.config import LockoutSettings
from books_api.errors import ServiceUnavailable, TooManyRequests


class LoginThrottle:
    def __init__(self, table: str, settings: LockoutSettings, dynamodb: Any | None = None) -> None:
        self.table = table
        self.settings = settings
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    @staticmethod
    def key(username: str) -> dict[str, Any]:
        return {"pk": {"S": f"LOCK#{username}"}}

    def check(self, record: dict[str, Any] | None, *, now: int) -> None:
        """A 429 with Retry-After while ``record`` (this table's item, or None) holds a lock."""
        locked_until = int(record["locked_until"]["N"]) if record and "locked_until" in record else 0
        if locked_until > now:
            raise TooManyRequests(retry_after=locked_until - now)

    def _expiry(self, now: int) -> dict[str, str]:
        # Kept past the longest wait, so the doubling survives a lockout; then TTL forgets it.
        return {"N": str(now + self.settings.window_seconds + self.settings.max_seconds)}

    def _update(self, username: str, expression: str, condition: str | None, values: dict) -> dict | None:
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self.key(username),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            request["ConditionExpression"] = condition
        try:
            with aws.unavailable_on_failure():
                return self.dynamodb.update_item(**request)["Attributes"]
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                return None
            raise

    def record_failure(self, username: str, *, now: int) -> None:
        """Count one failure (atomically); the one that reaches the threshold sets the lock.

        Within the window a failure adds one; otherwise it starts a new window, but only if no
        one else just did (else two simultaneous first failures would both count as the first):
        whoever loses that race adds one to the window the winner started.
        """
        expiry = self._expiry(now)
        cutoff = {":cutoff": {"N": str(now - self.settings.window_seconds)}}
        record = None
        for _ in range(2):
            record = self._update(
                username,
                "SET failures = failures + :one, expires_at = :exp",
                "window_start > :cutoff",
                {":one": {"N": "1"}, ":exp": expiry, **cutoff},
            ) or self._update(
                username,
                "SET failures = :one, window_start = :now, expires_at = :exp",
                "attribute_not_exists(window_start) OR window_start <= :cutoff",
                {":one": {"N": "1"}, ":now": {"N": str(now)}, ":exp": expiry, **cutoff},
            )
            if record is not None:
                break
        if record is None:
            raise ServiceUnavailable(retry_after=aws.RETRY_AFTER_SECONDS)
        failures = int(record["failures"]["N"])
        if failures < self.settings.threshold:
            return
        lockouts = int(record.get("lockouts", {"N": "0"})["N"])
        wait = min(self.settings.max_seconds, self.settings.base_seconds * 2**lockouts)
        self._update(
            username,
            "SET locked_until = :until, lockouts = :lockouts, failures = :zero, window_start = :now, "
            "expires_at = :exp",
            "failures = :failures",
            {
                ":until": {"N": str(now + wait)},
                ":lockouts": {"N": str(lockouts + 1)},
                ":zero": {"N": "0"},
                ":now": {"N": str(now)},
                ":exp": {"N": str(now + wait + self.settings.window_seconds + self.settings.max_seconds)},
                ":failures": {"N": str(failures)},
            },
        )

    def clear(self, username: str) -> None:
        with aws.unavailable_on_failure():
            self.dynamodb.delete_item(TableName=self.table, Key=self.key(username))
