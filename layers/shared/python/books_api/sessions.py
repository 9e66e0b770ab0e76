"""Sessions: refresh-token families and the records that revoke them, in the tokens table.

A login (or signup) starts a family; its refresh tokens are stored only as SHA-256 digests, each
spent by its one use. Items, all keyed by ``pk`` and expiring by TTL on ``expires_at``:

- ``FAMILY#<id>``: owner (``user_id``, ``username``), ``revoked``, the owner's session
  ``generation`` when it started, and the absolute expiry every token of the family shares.
- ``TOKEN#<sha256>``: its ``family_id``, ``spent``, the family's expiry.
- ``USER#<user id>``: the owner's current session ``generation``, raised by a password change;
  families of an older generation are void. (The users table holds the same number; this copy
  lets the authorizer check a session from the tokens table alone.)

The family id is the access token's ``sid`` claim.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from books_api import aws
from books_api.tokens import new_refresh_token, refresh_token_digest
from books_api.users import User


@dataclass(frozen=True)
class NewSession:
    family_id: str
    refresh_token: str
    writes: list[dict[str, Any]]


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
            id=item["pk"]["S"].removeprefix("FAMILY#"),
            user_id=item["user_id"]["S"],
            username=item["username"]["S"],
            revoked=item["revoked"]["BOOL"],
            generation=int(item.get("generation", {"N": "0"})["N"]),
            expires_at=int(item["expires_at"]["N"]),
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


class SessionStore:
    def __init__(self, table: str, *, refresh_ttl_seconds: int = 0, dynamodb: Any | None = None) -> None:
        self.table = table
        self.refresh_ttl_seconds = refresh_ttl_seconds
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    @staticmethod
    def family_key(family_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"FAMILY#{family_id}"}}

    @staticmethod
    def user_key(user_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"USER#{user_id}"}}

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def _token_item(self, token: str, family_id: str, expires_at: int) -> dict[str, Any]:
        return {
            "pk": {"S": f"TOKEN#{refresh_token_digest(token)}"},
            "family_id": {"S": family_id},
            "spent": {"BOOL": False},
            "expires_at": {"N": str(expires_at)},
        }

    def new_session(self, user: User, *, now: int | None = None) -> NewSession:
        """A new family and its first refresh token, as transaction writes (nothing written yet)."""
        issued_at = int(time.time()) if now is None else now
        expires_at = issued_at + self.refresh_ttl_seconds
        family_id = uuid.uuid4().hex
        token = new_refresh_token()
        family = {
            **self.family_key(family_id),
            "user_id": {"S": user.id},
            "username": {"S": user.username},
            "revoked": {"BOOL": False},
            "generation": {"N": str(user.session_generation)},
            "created_at": {"N": str(issued_at)},
            "expires_at": {"N": str(expires_at)},
        }
        writes = [self._put_new(family), self._put_new(self._token_item(token, family_id, expires_at))]
        return NewSession(family_id=family_id, refresh_token=token, writes=writes)

    def write(self, writes: list[dict[str, Any]]) -> None:
        with aws.unavailable_on_failure():
            self.dynamodb.transact_write_items(TransactItems=writes)

    def refresh_record(self, token: str) -> RefreshRecord | None:
        digest = refresh_token_digest(token)
        with aws.unavailable_on_failure():
            item = self.dynamodb.get_item(
                TableName=self.table, Key={"pk": {"S": f"TOKEN#{digest}"}}, ConsistentRead=True
            ).get("Item")
        if not item:
            return None
        return RefreshRecord(
            digest=digest,
            family_id=item["family_id"]["S"],
            spent=item["spent"]["BOOL"],
            expires_at=int(item["expires_at"]["N"]),
        )

    def family(self, family_id: str) -> Family | None:
        with aws.unavailable_on_failure():
            item = self.dynamodb.get_item(
                TableName=self.table, Key=self.family_key(family_id), ConsistentRead=True
            ).get("Item")
        return Family.from_item(item) if item else None

    def rotation(self, spent: RefreshRecord, family: Family) -> tuple[str, list[dict[str, Any]]]:
        """A new refresh token of ``family`` and the writes that spend ``spent`` for it, atomically.

        The writes succeed only if ``spent`` is still unspent, the family still unrevoked and of
        its owner's current session generation, so of several simultaneous refreshes with one
        token exactly one succeeds, and a refresh that loses the race with a password change
        (which raises the generation) issues nothing.
        """
        token = new_refresh_token()
        writes = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": f"TOKEN#{spent.digest}"}},
                    "UpdateExpression": "SET spent = :true",
                    "ConditionExpression": "spent = :false",
                    "ExpressionAttributeValues": {":true": {"BOOL": True}, ":false": {"BOOL": False}},
                }
            },
            self._put_new(self._token_item(token, family.id, family.expires_at)),
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": self.family_key(family.id),
                    "ConditionExpression": "revoked = :false",
                    "ExpressionAttributeValues": {":false": {"BOOL": False}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": self.user_key(family.user_id),
                    "ConditionExpression": "attribute_not_exists(pk) OR generation <= :generation",
                    "ExpressionAttributeValues": {":generation": {"N": str(family.generation)}},
                }
            },
        ]
        return token, writes

    def revoke_family(self, family_id: str, *, user_id: str) -> bool:
        """Revoke ``family_id`` if ``user_id`` owns it; False when there is no such family of theirs."""
        try:
            with aws.unavailable_on_failure():
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key=self.family_key(family_id),
                    UpdateExpression="SET revoked = :true",
                    ConditionExpression="user_id = :owner",
                    ExpressionAttributeValues={":true": {"BOOL": True}, ":owner": {"S": user_id}},
                )
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def generation_write(self, user: User, generation: int, *, now: int | None = None) -> dict[str, Any]:
        """The transaction Put that records ``user``'s new session generation for the authorizer."""
        issued_at = int(time.time()) if now is None else now
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **self.user_key(user.id),
                    "generation": {"N": str(generation)},
                    # Every family older than this record has expired by the time it does.
                    "expires_at": {"N": str(issued_at + self.refresh_ttl_seconds)},
                },
            }
        }

    def session_active(self, *, family_id: str, user_id: str, now: int | None = None) -> bool:
        """Whether access tokens of session ``family_id`` may still be used (strict revocation).

        One BatchGetItem for the family and the owner's generation. No family, another owner,
        or an answer that leaves a key unprocessed all count as not active: fail closed.
        """
        keys = [self.family_key(family_id), self.user_key(user_id)]
        with aws.unavailable_on_failure():
            response = self.dynamodb.batch_get_item(
                RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
            )
        if response.get("UnprocessedKeys"):
            return False
        items = {item["pk"]["S"]: item for item in response.get("Responses", {}).get(self.table, [])}
        family_item = items.get(f"FAMILY#{family_id}")
        if family_item is None:
            return False
        family = Family.from_item(family_item)
        user_item = items.get(f"USER#{user_id}")
        generation = int(user_item["generation"]["N"]) if user_item else 0
        current = int(time.time()) if now is None else now
        return family.user_id == user_id and family.active(now=current, generation=generation)
