"""Users: username rules and the users table."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from books_api.dal import (
    ConditionFailed,
    Repository,
    TransactionCancelled,
    Write,
    placeholders,
    to_attributes,
)
from books_api.errors import Conflict, field_error
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
        return {**asdict(self), "roles": list(self.roles)}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> User:
        return cls(
            id=item["id"],
            username=item["username"],
            roles=tuple(item["roles"]),
            created_at=item["created_at"],
            password_hash=item["password_hash"],
            session_generation=item.get("session_generation", 0),
        )


USERNAME_FREE = "username free"
UNCHANGED = "account unchanged"


class UserRepository(Repository):
    """The users table: one item per user, keyed by the normalised username."""

    @staticmethod
    def key(username: str) -> dict[str, Any]:
        return {"username": username}

    def get(self, username: str) -> User | None:
        item = self.read(self.key(username))
        return User.from_item(item) if item else None

    def creation(self, user: User) -> Write:
        """The transaction Put that creates ``user``: its condition is that the name is free."""
        return Write(
            USERNAME_FREE,
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_attributes(user.to_item()),
                    "ConditionExpression": "attribute_not_exists(username)",
                }
            },
        )

    def create(self, user: User, *, along: Sequence[Write] = ()) -> None:
        """Store a new ``user`` with ``along`` (its first session, say) in one transaction: all or
        nothing. A 409 if the username is taken, by a user stored before or at the same time."""
        try:
            self.transact([self.creation(user), *along])
        except TransactionCancelled as cancelled:
            if USERNAME_FREE in cancelled.failed or cancelled.conflict:
                raise Conflict("Username is already taken") from None
            raise

    def change_password(self, user: User, password_hash: str, *, along: Sequence[Write] = ()) -> None:
        """Set ``user``'s hash and start a new session generation, with ``along`` in one transaction.

        Conditional on the generation ``user`` was read with, so of two racing changes one fails
        (a 409): the account changed meanwhile.
        """
        update = {
            "Update": {
                "TableName": self.table,
                "Key": to_attributes(self.key(user.username)),
                "UpdateExpression": "SET password_hash = :hash, session_generation = :next",
                "ConditionExpression": "id = :id AND "
                "(attribute_not_exists(session_generation) OR session_generation = :seen)",
                "ExpressionAttributeValues": placeholders(
                    hash=password_hash,
                    id=user.id,
                    seen=user.session_generation,
                    next=user.session_generation + 1,
                ),
            }
        }
        try:
            self.transact([Write(UNCHANGED, update), *along])
        except TransactionCancelled:
            raise Conflict("The account changed meanwhile; try again") from None

    def replace_hash(self, user: User, password_hash: str) -> bool:
        """Replace ``user``'s hash with another of the same password (a rehash at a new cost):
        only if the stored hash is still the one ``user`` was read with. False if it changed."""
        try:
            self.call(
                "update_item",
                Key=to_attributes(self.key(user.username)),
                UpdateExpression="SET password_hash = :new",
                ConditionExpression="password_hash = :old",
                ExpressionAttributeValues=placeholders(new=password_hash, old=user.password_hash),
            )
        except ConditionFailed:
            return False
        return True

    def set_roles(self, username: str, roles: tuple[str, ...]) -> None:
        self.call(
            "update_item",
            Key=to_attributes(self.key(username)),
            UpdateExpression="SET #r = :roles",
            ConditionExpression="attribute_exists(username)",
            ExpressionAttributeNames={"#r": "roles"},
            ExpressionAttributeValues=placeholders(roles=list(roles)),
        )
