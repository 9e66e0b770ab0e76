"""Sessions: refresh-token families and the records that revoke them, in the tokens table.

A login (or signup) starts a family; its refresh tokens are stored only as SHA-256 digests, each
spent by its one use. Items, all keyed by ``pk`` and expiring by TTL on ``expires_at``:

- ``FAMILY#<id>``: owner (``user_id``, ``username``), ``revoked``, the owner's session
  ``generation`` when it started, and the absolute expiry every token of the family shares.
- ``TOKEN#<sha256>``: its ``family_id``, its owner's ``user_id``, ``spent``, the family's expiry.
- ``USER#<user id>``: the owner's current session ``generation``, raised by every change that
  ends their sessions; families of an older generation are void. (The users table holds the same
  number; this copy lets the authorizer check a session from the tokens table alone.)

Every item of a user's holds its ``user_id``, so the sparse index ``ByUser`` finds them all when
the user is erased.

The family id is the access token's ``sid`` claim.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from books_api import aws
from books_api.budget import RETRY_AFTER_SECONDS
from books_api.dal import (
    ConditionFailed,
    Repository,
    TransactionCancelled,
    Write,
    from_attributes,
    placeholders,
    to_attributes,
)
from books_api.errors import ServiceUnavailable
from books_api.opaque import new_opaque_token, token_digest
from books_api.users import User

CONFLICT_RETRIES = 3
USER_INDEX = "ByUser"
BATCH_SIZE = 25  # BatchWriteItem's most
# What the conditions of a rotation's writes stand for.
UNSPENT = "token unspent"
NEW = "new token"
NOT_REVOKED = "session not revoked"
CURRENT_GENERATION = "session of the current generation"


class TokenSpent(Exception):
    """The refresh token was spent meanwhile: a replay, or the loser of a race."""


class SessionEnded(Exception):
    """The session was revoked, or its owner's sessions ended, since they were read."""


@dataclass(frozen=True)
class NewSession:
    family_id: str
    refresh_token: str
    writes: list[Write]


@dataclass(frozen=True)
class Family:
    id: str
    user_id: str
    username: str
    revoked: bool
    generation: int
    expires_at: int

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Family:
        return cls(
            id=item["pk"].removeprefix("FAMILY#"),
            user_id=item["user_id"],
            username=item["username"],
            revoked=item["revoked"],
            generation=item.get("generation", 0),
            expires_at=item["expires_at"],
        )

    def active(self, *, now: int, generation: int) -> bool:
        """Not revoked, not past its absolute lifetime, and not older than the owner's generation."""
        return not self.revoked and now < self.expires_at and self.generation >= generation


@dataclass(frozen=True)
class RefreshRecord:
    digest: str
    family_id: str
    spent: bool
    expires_at: int


class SessionStore(Repository):
    def __init__(self, table: str, *, refresh_ttl_seconds: int = 0, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.refresh_ttl_seconds = refresh_ttl_seconds

    @staticmethod
    def family_key(family_id: str) -> dict[str, Any]:
        return {"pk": f"FAMILY#{family_id}"}

    @staticmethod
    def token_key(digest: str) -> dict[str, Any]:
        return {"pk": f"TOKEN#{digest}"}

    @staticmethod
    def user_key(user_id: str) -> dict[str, Any]:
        return {"pk": f"USER#{user_id}"}

    def _put_new(self, purpose: str, item: dict[str, Any]) -> Write:
        return Write(
            purpose,
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_attributes(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        )

    def _token_item(self, token: str, family_id: str, user_id: str, expires_at: int) -> dict[str, Any]:
        return {
            **self.token_key(token_digest(token)),
            "family_id": family_id,
            "user_id": user_id,
            "spent": False,
            "expires_at": expires_at,
        }

    def new_session(self, user: User, *, now: int | None = None) -> NewSession:
        """A new family and its first refresh token, as transaction writes (nothing written yet)."""
        issued_at = int(time.time()) if now is None else now
        expires_at = issued_at + self.refresh_ttl_seconds
        family_id = uuid.uuid4().hex
        token = new_opaque_token()
        family = {
            **self.family_key(family_id),
            "user_id": user.id,
            "username": user.username,
            "revoked": False,
            "generation": user.session_generation,
            "created_at": issued_at,
            "expires_at": expires_at,
        }
        writes = [
            self._put_new("new session", family),
            self._put_new(NEW, self._token_item(token, family_id, user.id, expires_at)),
        ]
        return NewSession(family_id=family_id, refresh_token=token, writes=writes)

    def start(self, session: NewSession) -> None:
        """Store a new session on its own (a login's)."""
        self.transact(session.writes)

    def refresh_record(self, token: str) -> RefreshRecord | None:
        digest = token_digest(token)
        item = self.read(self.token_key(digest))
        if not item:
            return None
        return RefreshRecord(
            digest=digest, family_id=item["family_id"], spent=item["spent"], expires_at=item["expires_at"]
        )

    def family(self, family_id: str) -> Family | None:
        item = self.read(self.family_key(family_id))
        return Family.from_item(item) if item else None

    def rotation(self, spent: RefreshRecord, family: Family) -> tuple[str, list[Write]]:
        """A new refresh token of ``family`` and the writes that spend ``spent`` for it, atomically.

        The writes succeed only if ``spent`` is still unspent, the family still unrevoked and of
        its owner's current session generation, so of several simultaneous refreshes with one
        token exactly one succeeds, and a refresh that loses the race with a password change
        (which raises the generation) issues nothing.
        """
        token = new_opaque_token()
        writes = [
            Write(
                UNSPENT,
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": to_attributes(self.token_key(spent.digest)),
                        "UpdateExpression": "SET spent = :true",
                        "ConditionExpression": "spent = :false",
                        "ExpressionAttributeValues": placeholders(true=True, false=False),
                    }
                },
            ),
            self._put_new(NEW, self._token_item(token, family.id, family.user_id, family.expires_at)),
            Write(
                NOT_REVOKED,
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": to_attributes(self.family_key(family.id)),
                        "ConditionExpression": "revoked = :false",
                        "ExpressionAttributeValues": placeholders(false=False),
                    }
                },
            ),
            Write(
                CURRENT_GENERATION,
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": to_attributes(self.user_key(family.user_id)),
                        "ConditionExpression": "attribute_not_exists(pk) OR generation <= :generation",
                        "ExpressionAttributeValues": placeholders(generation=family.generation),
                    }
                },
            ),
        ]
        return token, writes

    def rotate(self, spent: RefreshRecord, family: Family) -> str:
        """Spend ``spent`` for a new refresh token of ``family`` (see ``rotation``), retrying the
        few times DynamoDB cancels the transaction for a concurrent one.

        ``TokenSpent`` if the token was spent meanwhile; ``SessionEnded`` if the session was
        revoked or its owner's sessions ended meanwhile; a 503 if the contention persists.
        """
        token, writes = self.rotation(spent, family)
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.transact(writes)
                return token
            except TransactionCancelled as cancelled:
                if UNSPENT in cancelled.failed:
                    raise TokenSpent() from None
                if cancelled.failed:
                    raise SessionEnded() from None
                if attempt == CONFLICT_RETRIES:
                    raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from None
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def revoke_family(self, family_id: str, *, user_id: str) -> bool:
        """Revoke ``family_id`` if ``user_id`` owns it; False when there is no such family of theirs."""
        try:
            self.call(
                "update_item",
                Key=to_attributes(self.family_key(family_id)),
                UpdateExpression="SET revoked = :true",
                ConditionExpression="user_id = :owner",
                ExpressionAttributeValues=placeholders(true=True, owner=user_id),
            )
        except ConditionFailed:
            return False
        return True

    def generation_write(self, user: User, generation: int, *, now: int | None = None) -> Write:
        """The transaction Put that records ``user``'s new session generation for the authorizer."""
        issued_at = int(time.time()) if now is None else now
        item = {
            **self.user_key(user.id),
            "user_id": user.id,
            "generation": generation,
            # Every family older than this record has expired by the time it does.
            "expires_at": issued_at + self.refresh_ttl_seconds,
        }
        return Write("generation", {"Put": {"TableName": self.table, "Item": to_attributes(item)}})

    def keep_session(self, family_id: str, *, user_id: str, generation: int) -> Write:
        """The transaction Update that carries the caller's session ``family_id`` into the new
        ``generation``: the change that ends every other session of the user leaves this one."""
        return Write(
            NOT_REVOKED,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_attributes(self.family_key(family_id)),
                    "UpdateExpression": "SET generation = :generation",
                    "ConditionExpression": "user_id = :owner AND revoked = :false",
                    "ExpressionAttributeValues": placeholders(
                        generation=generation, owner=user_id, false=False
                    ),
                }
            },
        )

    def erase_user(self, user_id: str, *, lock_keys: list[dict[str, Any]]) -> int:
        """Delete every item of ``user_id``'s (index ``ByUser``) and the lockout records
        ``lock_keys``; the generation record last, so that under strict revocation no session of
        theirs is active meanwhile. The number of items deleted."""
        keys: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": placeholders(user=user_id),
        }
        while True:
            response = self.call("query", **request)
            keys += [{"pk": from_attributes(item)["pk"]} for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        generation = self.user_key(user_id)
        rest = [key for key in keys if key != generation] + lock_keys
        for start in range(0, len(rest), BATCH_SIZE):
            self._delete_all(rest[start : start + BATCH_SIZE])
        self.call("delete_item", Key=to_attributes(generation))
        return len(rest) + 1

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        """One BatchWriteItem deleting ``keys`` (at most 25), with what DynamoDB leaves unprocessed
        sent again a few times; a 503 if some remain (the erasure can be run again)."""
        pending = {self.table: [{"DeleteRequest": {"Key": to_attributes(key)}} for key in keys]}
        for attempt in range(CONFLICT_RETRIES + 1):
            with aws.unavailable_on_failure():
                pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * (attempt + 1))
        raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS)

    def session_active(self, *, family_id: str, user_id: str, now: int | None = None) -> bool:
        """Whether access tokens of session ``family_id`` may still be used (strict revocation).

        One BatchGetItem for the family and the owner's generation. No family, another owner,
        or an answer that leaves a key unprocessed all count as not active: fail closed.
        """
        keys = [to_attributes(self.family_key(family_id)), to_attributes(self.user_key(user_id))]
        with aws.unavailable_on_failure():
            response = self.dynamodb.batch_get_item(
                RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
            )
        if response.get("UnprocessedKeys"):
            return False
        items = {
            item["pk"]: item
            for item in (from_attributes(raw) for raw in response.get("Responses", {}).get(self.table, []))
        }
        family_item = items.get(f"FAMILY#{family_id}")
        if family_item is None:
            return False
        family = Family.from_item(family_item)
        user_item = items.get(f"USER#{user_id}")
        generation = user_item["generation"] if user_item else 0
        current = int(time.time()) if now is None else now
        return family.user_id == user_id and family.active(now=current, generation=generation)
