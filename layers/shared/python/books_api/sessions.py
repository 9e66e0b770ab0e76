"""Refresh-token families in the tokens table.

A login (or signup) starts a family; its refresh tokens are stored only as SHA-256 digests.
Items, all keyed by ``pk`` and expiring by TTL on ``expires_at``:

- ``FAMILY#<id>``: owner (``user_id``, ``username``), ``revoked``, absolute expiry.
- ``TOKEN#<sha256>``: its ``family_id``, ``spent``, the same expiry as its family.

The family id is the access token's ``sid`` claim.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from books_api import aws
from books_api.tokens import new_refresh_token, refresh_token_digest
from books_api.users import User


@dataclass(frozen=True)
class NewSession:
    family_id: str
    refresh_token: str
    writes: list[dict[str, Any]]


class SessionStore:
    def __init__(self, table: str, *, refresh_ttl_seconds: int, dynamodb: Any | None = None) -> None:
        self.table = table
        self.refresh_ttl_seconds = refresh_ttl_seconds
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    def new_session(self, user: User, *, now: int | None = None) -> NewSession:
        """A new family and its first refresh token, as transaction writes (nothing written yet)."""
        issued_at = int(time.time()) if now is None else now
        expires_at = str(issued_at + self.refresh_ttl_seconds)
        family_id = uuid.uuid4().hex
        token = new_refresh_token()
        family = {
            "pk": {"S": f"FAMILY#{family_id}"},
            "user_id": {"S": user.id},
            "username": {"S": user.username},
            "revoked": {"BOOL": False},
            "created_at": {"N": str(issued_at)},
            "expires_at": {"N": expires_at},
        }
        first = {
            "pk": {"S": f"TOKEN#{refresh_token_digest(token)}"},
            "family_id": {"S": family_id},
            "spent": {"BOOL": False},
            "expires_at": {"N": expires_at},
        }
        writes = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for item in (family, first)
        ]
        return NewSession(family_id=family_id, refresh_token=token, writes=writes)

    def write(self, writes: list[dict[str, Any]]) -> None:
        with aws.unavailable_on_failure():
            self.dynamodb.transact_write_items(TransactItems=writes)
