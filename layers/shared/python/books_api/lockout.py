"""Credential-check lockout per username, in the tokens table (``LOCK#<username>``, expiring by TTL).

A credential check (a login's password, a password change's current password) is *admitted*
before it runs: one conditional UpdateItem counts it, and refuses it with a 429 when the
username is locked or ``threshold`` checks have already been admitted in the current window.
So however many attempts arrive at once, at most ``threshold`` passwords are checked per window
per username: counting a failure after the check would let every guess that arrives while
another is inside bcrypt pass unseen.

The admission that uses the last place of a window also sets the lock, in the same write: it
holds unless that check succeeds. The wait starts at ``base_seconds`` and doubles with each
further lockout up to ``max_seconds``, as Cognito does. A success deletes the record, so the
count starts again.
Unknown usernames are counted exactly like known ones: admission never looks at the user.

Item: ``attempts`` admitted in the window that began at ``window_start``; ``locked_until``;
``lockouts`` so far (for the doubling); ``expires_at`` for TTL.
"""

from __future__ import annotations

import re
from typing import Any

from books_api.budget import RETRY_AFTER_SECONDS
from books_api.config import LockoutSettings
from books_api.dal import ConditionFailed, Repository, placeholders, to_attributes
from books_api.errors import ServiceUnavailable, TooManyRequests

# Each conditional write that loses a race to another admission is retried with what that
# write saw: an attempt inside a window takes two writes, and a few more cover the writes of
# simultaneous admissions in between.
MAX_WRITES = 6
_PLACEHOLDER = re.compile(r":\w+")
_UNLOCKED = "(attribute_not_exists(locked_until) OR locked_until <= :now)"


def mfa_lock_name(user_id: str) -> str:
    """The name MFA codes of ``user_id`` are counted under: apart from the password's, since a
    right password clears its count (no username holds a ":")."""
    return f"mfa:{user_id}"


class LoginThrottle(Repository):
    def __init__(self, table: str, settings: LockoutSettings, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.settings = settings

    @staticmethod
    def key(username: str) -> dict[str, Any]:
        return {"pk": f"LOCK#{username}"}

    def wait_after(self, lockouts: int) -> int:
        """How long the lock that follows ``lockouts`` earlier ones lasts."""
        return min(self.settings.max_seconds, self.settings.base_seconds * (1 << lockouts))

    def admit(self, username: str, *, now: int) -> None:
        """Count one credential check for ``username``, or refuse it with a 429 (Retry-After).

        A 503 when DynamoDB cannot decide: an attempt that was not counted is never checked.
        """
        # The item as the last refused write saw it. At first, none: most logins are a user's
        # first in a while, and one write then starts a window; a guess inside a window takes two.
        seen: dict[str, Any] | None = None
        for _ in range(MAX_WRITES):
            request = self._admission(seen, now=now)
            try:
                self.call("update_item", Key=to_attributes(self.key(username)), **request)
                return
            except ConditionFailed as failed:
                seen = failed.item
        raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS)

    def _admission(self, seen: dict[str, Any] | None, *, now: int) -> dict[str, Any]:
        """The conditional write that admits an attempt, given the item as last seen.

        Raises the 429 instead when what was seen refuses the attempt.
        """
        threshold = self.settings.threshold
        cutoff = now - self.settings.window_seconds
        values = {
            ":now": now,
            ":cutoff": cutoff,
            ":one": 1,
            ":exp": now + self.settings.window_seconds + self.settings.max_seconds,
        }
        locked_until = _number(seen, "locked_until")
        if locked_until > now:
            raise TooManyRequests(retry_after=locked_until - now)
        window_start = _number(seen, "window_start", default=None)
        lockouts = _number(seen, "lockouts")
        active = window_start is not None and window_start > cutoff
        if not active:
            attempts_before = 0
            condition = "(attribute_not_exists(pk) OR window_start <= :cutoff)"
            start = "SET attempts = :one, window_start = :now, expires_at = :exp"
        else:
            attempts_before = _number(seen, "attempts")
            if attempts_before >= threshold:  # only when the threshold was lowered meanwhile
                raise TooManyRequests(retry_after=window_start + self.settings.window_seconds - now)
            # Any number of places but the last: simultaneous admissions do not contend.
            condition = "window_start > :cutoff AND attempts < :last"
            values[":last"] = threshold - 1
            start = "SET attempts = attempts + :one, expires_at = :exp"
        if attempts_before + 1 < threshold:
            return self._request(start, f"{condition} AND {_UNLOCKED}", values)
        if active:  # the last place of this window, as seen: exactly one admission takes it
            condition = "window_start = :seen_start AND attempts = :seen"
            values = {**values, ":seen_start": window_start, ":seen": attempts_before}
        # The last place of the window: this attempt locks the username unless it succeeds.
        # The next window starts when the lock ends, so it begins with no attempts. The wait
        # doubles with the lockouts seen, so they are part of the condition.
        if lockouts:
            condition += " AND lockouts = :seen_lockouts"
            values[":seen_lockouts"] = lockouts
        else:
            condition += " AND attribute_not_exists(lockouts)"
        wait = self.wait_after(lockouts)
        values.update(
            {
                ":until": now + wait,
                ":lockouts": lockouts + 1,
                ":zero": 0,
                ":next_start": now + wait,
                ":exp": now + wait + self.settings.window_seconds + self.settings.max_seconds,
            }
        )
        return self._request(
            "SET attempts = :zero, window_start = :next_start, locked_until = :until, "
            "lockouts = :lockouts, expires_at = :exp",
            f"{condition} AND {_UNLOCKED}",
            values,
        )

    @staticmethod
    def _request(update: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
        named = set(_PLACEHOLDER.findall(update + " " + condition))
        return {
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": placeholders(
                **{name[1:]: value for name, value in values.items() if name in named}
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def clear(self, username: str) -> None:
        """Forget ``username``'s count: a check succeeded."""
        self.call("delete_item", Key=to_attributes(self.key(username)))


def _number(item: dict[str, Any] | None, name: str, *, default: int | None = 0) -> Any:
    value = (item or {}).get(name)
    return default if value is None else value
