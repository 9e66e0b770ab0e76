"""Users: username rules and the users table."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from books_api import aws
from books_api.errors import field_error
from books_api.limits import USERNAME_PATTERN
from books_api.permissions import ADMIN, READER

ROLES = (READER, ADMIN)

_USERNAME = re.compile(USERNAME_PATTERN)


def normalize_username(raw: str) -> str:
    """NFKC then case-fold, so "Alice", "ALICE" and its full-width form are one key; then the allowed shape.

    1 to 32 characters: ASCII letters and digits, with ".", "_" or "-" inside. Keeping names
    ASCII rules out look-alike names from other scripts.
    """
    name = unicodedata.normalize("NFKC", raw).casefold().strip()
    if not _USERNAME.fullmatch(name):
        raise field_error(
            "username",
            "must be 1 to 32 characters: letters, digits, and '.', '_' or '-' between them",
        )
    return name


@dataclass(frozen=True)
class User:
    id: str
    username: str
    roles: tuple[str, ...]
    created_at: str
    password_hash: str = field(repr=False)
    # Raised by every password change: sessions started under an older generation are void.
    session_generation: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "roles": list(self.roles),
            "created_at": self.created_at,
        }

    def to_item(self) -> dict[str, Any]:
        return {
            "username": {"S": self.username},
            "id": {"S": self.id},
            "roles": {"L": [{"S": role} for role in self.roles]},
            "created_at": {"S": self.created_at},
            "password_hash": {"S": self.password_hash},
            "session_generation": {"N": str(self.session_generation)},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> User:
        return cls(
            id=item["id"]["S"],
            username=item["username"]["S"],
            roles=tuple(role["S"] for role in item["roles"]["L"]),
            created_at=item["created_at"]["S"],
            password_hash=item["password_hash"]["S"],
            session_generation=int(item.get("session_generation", {"N": "0"})["N"]),
        )


class UserRepository:
    """The users table: one item per user, keyed by the normalised username."""

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    def put_new_item(self, user: User) -> dict[str, Any]:
        """The conditional Put that creates ``user``, for a transaction (see ``sessions``)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": user.to_item(),
                "ConditionExpression": "attribute_not_exists(username)",
            }
        }

    @staticmethod
    def key(username: str) -> dict[str, Any]:
        return {"username": {"S": username}}

    def get(self, username: str) -> User | None:
        with aws.unavailable_on_failure():
            response = self.dynamodb.get_item(
                TableName=self.table, Key=self.key(username), ConsistentRead=True
            )
        item = response.get("Item")
        return User.from_item(item) if item else None

    def new_password_update(self, user: User, password_hash: str) -> dict[str, Any]:
        """The transaction Update that sets ``user``'s hash and starts a new session generation.

        Conditional on the generation ``user`` was read with, so of two racing changes one fails.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": self.key(user.username),
                "UpdateExpression": "SET password_hash = :h, session_generation = :next",
                "ConditionExpression": "id = :id AND "
                "(attribute_not_exists(session_generation) OR session_generation = :seen)",
                "ExpressionAttributeValues": {
                    ":h": {"S": password_hash},
                    ":id": {"S": user.id},
                    ":seen": {"N": str(user.session_generation)},
                    ":next": {"N": str(user.session_generation + 1)},
                },
            }
        }

    def replace_hash(self, user: User, password_hash: str) -> bool:
        """Replace ``user``'s hash with another of the same password (a rehash at a new cost):
        only if the stored hash is still the one ``user`` was read with. False if it changed."""
        try:
            with aws.unavailable_on_failure():
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key=self.key(user.username),
                    UpdateExpression="SET password_hash = :new",
                    ConditionExpression="password_hash = :old",
                    ExpressionAttributeValues={
                        ":new": {"S": password_hash},
                        ":old": {"S": user.password_hash},
                    },
                )
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set_roles(self, username: str, roles: tuple[str, ...]) -> None:
        with aws.unavailable_on_failure():
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"username": {"S": username}},
                UpdateExpression="SET #r = :r",
                ConditionExpression="attribute_exists(username)",
                ExpressionAttributeNames={"#r": "roles"},
                ExpressionAttributeValues={":r": {"L": [{"S": role} for role in roles]}},
            )
