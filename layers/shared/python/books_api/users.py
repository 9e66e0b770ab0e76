"""Users: username rules and the users table."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from books_api.dal import (
    ConditionFailed,
    Repository,
    TransactionCancelled,
    Write,
    from_attributes,
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


# What anyone may see of a user (the Directory index projects these and no more).
PUBLIC_FIELDS = ("id", "username", "roles", "created_at", "disabled", "mfa_enabled")


def public_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The public fields of a user's ``values`` (a User's attributes, or a listed item)."""
    return {name: list(values[name]) if name == "roles" else values[name] for name in PUBLIC_FIELDS}


@dataclass(frozen=True)
class Totp:
    """A user's confirmed TOTP factor: the secret as KMS encrypted it (``books_api.mfa``), the last
    time step a code was accepted for, and the digests of the recovery codes still unused."""

    secret: bytes = field(repr=False)
    last_step: int
    recovery_codes: frozenset[str] = field(repr=False, default=frozenset())


@dataclass(frozen=True)
class PendingTotp:
    """An enrolment not yet confirmed by a code: its encrypted secret and when it lapses."""

    secret: bytes = field(repr=False)
    expires_at: int


@dataclass(frozen=True)
class User:
    id: str
    username: str
    roles: tuple[str, ...]
    created_at: str
    password_hash: str = field(repr=False)
    # Raised by every change that ends the user's sessions: a new password, roles or state, MFA on.
    session_generation: int = 0
    disabled: bool = False
    totp: Totp | None = None
    pending_totp: PendingTotp | None = None

    @property
    def mfa_enabled(self) -> bool:
        return self.totp is not None

    @property
    def enabled_admin(self) -> bool:
        """Whether this user counts toward the enabled admins, of which one must remain."""
        return ADMIN in self.roles and not self.disabled

    def public(self) -> dict[str, Any]:
        return public_fields({name: getattr(self, name) for name in PUBLIC_FIELDS})

    def to_item(self) -> dict[str, Any]:
        """The item of a new user (no factor yet), with the constant that puts it in the directory."""
        return {
            "directory": DIRECTORY,
            "id": self.id,
            "username": self.username,
            "roles": list(self.roles),
            "created_at": self.created_at,
            "password_hash": self.password_hash,
            "session_generation": self.session_generation,
            "disabled": self.disabled,
            "mfa_enabled": False,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> User:
        totp = None
        if "totp_secret" in item:
            totp = Totp(
                secret=bytes(item["totp_secret"]),
                last_step=item.get("totp_last_step", 0),
                recovery_codes=frozenset(item.get("recovery_codes", ())),
            )
        pending = None
        if "totp_pending" in item:
            pending = PendingTotp(bytes(item["totp_pending"]), item.get("totp_pending_expires_at", 0))
        return cls(
            id=item["id"],
            username=item["username"],
            roles=tuple(item["roles"]),
            created_at=item["created_at"],
            password_hash=item["password_hash"],
            session_generation=item.get("session_generation", 0),
            disabled=item.get("disabled", False),
            totp=totp,
            pending_totp=pending,
        )


@dataclass(frozen=True)
class CodeUse:
    """A verified MFA code as the condition that it is still unused, on its user's item, and the
    update that spends it (``books_api.mfa``). ``values`` are those the condition names,
    ``spent_values`` those only the update names (DynamoDB refuses a value a request leaves
    unused), all ``:code_*``."""

    condition: str
    update: str
    values: dict[str, Any]
    spent_values: dict[str, Any] = field(default_factory=dict)


# The users directory (index ``Directory``): every user item holds this constant, so a page of
# users is one Query on one key, in username order.
DIRECTORY = "users"
DIRECTORY_INDEX = "Directory"
ID_INDEX = "ById"
# The count of enabled admins: an item no username can name (usernames have no "#").
ADMIN_COUNT_KEY = "#enabled-admins"

USERNAME_FREE = "username free"
UNCHANGED = "account unchanged"
ANOTHER_ADMIN = "another enabled admin remains"
_UNCHANGED_CONDITION = "id = :id AND (attribute_not_exists(session_generation) OR session_generation = :seen)"


class UserRepository(Repository):
    """The users table: one item per user, keyed by the normalised username, and the count of
    enabled admins."""

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
        writes = [self.creation(user), *along]
        if user.enabled_admin:
            writes.append(self.admin_count_write(+1))
        try:
            self.transact(writes)
        except TransactionCancelled as cancelled:
            if USERNAME_FREE in cancelled.failed or cancelled.conflict:
                raise Conflict("Username is already taken") from None
            raise

    def unchanged(self, user: User) -> Write:
        """A ConditionCheck that ``user`` is as it was read (same id, same session generation):
        a session started with it is void if the account was deleted or its sessions ended."""
        return Write(
            UNCHANGED,
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": to_attributes(self.key(user.username)),
                    "ConditionExpression": _UNCHANGED_CONDITION,
                    "ExpressionAttributeValues": placeholders(id=user.id, seen=user.session_generation),
                }
            },
        )

    def admin_count_write(self, change: int) -> Write:
        """The transaction write that counts one enabled admin more (``+1``) or fewer (``-1``).

        One fewer is conditional on at least two now, so however many admins are demoted,
        disabled or deleted at once, the last one stays: of racing transactions DynamoDB applies
        one at a time, and each sees the count the others left.
        """
        key = to_attributes(self.key(ADMIN_COUNT_KEY))
        if change > 0:
            update = {"UpdateExpression": "ADD admins :one", "ExpressionAttributeValues": placeholders(one=1)}
        else:
            update = {
                "UpdateExpression": "SET admins = admins - :one",
                "ConditionExpression": "admins > :one",
                "ExpressionAttributeValues": placeholders(one=1),
            }
        return Write(ANOTHER_ADMIN, {"Update": {"TableName": self.table, "Key": key, **update}})

    def _admin_count_change(self, before: User, after_admin: bool) -> list[Write]:
        if before.enabled_admin == after_admin:
            return []
        return [self.admin_count_write(+1 if after_admin else -1)]

    def update_user(
        self,
        user: User,
        update: str,
        values: dict[str, Any],
        *,
        condition: str = _UNCHANGED_CONDITION,
        names: dict[str, str] | None = None,
        along: Sequence[Write] = (),
        conflict: str = "The account changed meanwhile; try again",
    ) -> None:
        """One conditional Update of ``user``'s item with ``along``, in one transaction: a 409
        (``conflict``) if the account changed since ``user`` was read, or the last enabled admin
        would go."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": to_attributes(self.key(user.username)),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": placeholders(id=user.id, seen=user.session_generation, **values),
        }
        if names:
            request["ExpressionAttributeNames"] = names
        self.transact_or_conflict([Write(UNCHANGED, {"Update": request}), *along], conflict)

    def transact_or_conflict(self, writes: Sequence[Write], conflict: str) -> None:
        try:
            self.transact(writes)
        except TransactionCancelled as cancelled:
            if ANOTHER_ADMIN in cancelled.failed:
                raise Conflict(LAST_ADMIN) from None
            raise Conflict(conflict) from None

    def change_password(self, user: User, password_hash: str, *, along: Sequence[Write] = ()) -> None:
        """Set ``user``'s hash and start a new session generation, with ``along`` in one transaction.

        Conditional on the generation ``user`` was read with, so of two racing changes one fails
        (a 409): the account changed meanwhile.
        """
        self.update_user(
            user,
            "SET password_hash = :hash, session_generation = :next",
            {"hash": password_hash, "next": user.session_generation + 1},
            along=along,
        )

    def set_state(
        self, user: User, *, roles: tuple[str, ...], disabled: bool, along: Sequence[Write] = ()
    ) -> User:
        """Give ``user`` these roles and this disabled state, in a new session generation (every
        session ends), with ``along``: a 409 if the account changed meanwhile or if no enabled
        admin would remain."""
        after = replace(user, roles=roles, disabled=disabled, session_generation=user.session_generation + 1)
        self.update_user(
            user,
            "SET #r = :roles, disabled = :disabled, session_generation = :next",
            {"roles": list(roles), "disabled": disabled, "next": after.session_generation},
            names={"#r": "roles"},
            along=[*along, *self._admin_count_change(user, after.enabled_admin)],
        )
        return after

    def set_password_and_roles(
        self, user: User, password_hash: str, roles: tuple[str, ...], *, along: Sequence[Write] = ()
    ) -> None:
        """An operator's reset: a new hash and these roles, enabled, in a new session generation."""
        after = replace(user, roles=roles, disabled=False)
        self.update_user(
            user,
            "SET password_hash = :hash, #r = :roles, disabled = :false, session_generation = :next",
            {
                "hash": password_hash,
                "roles": list(roles),
                "false": False,
                "next": user.session_generation + 1,
            },
            names={"#r": "roles"},
            along=[*along, *self._admin_count_change(user, after.enabled_admin)],
        )

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

    # --- multi-factor sign-in ------------------------------------------------------------------

    def start_totp(self, user: User, secret: bytes, expires_at: int) -> None:
        """Keep ``secret`` (encrypted) as ``user``'s enrolment awaiting its first code: a 409 if a
        factor is on meanwhile."""
        try:
            self.call(
                "update_item",
                Key=to_attributes(self.key(user.username)),
                UpdateExpression="SET totp_pending = :secret, totp_pending_expires_at = :expires",
                ConditionExpression="id = :id AND attribute_not_exists(totp_secret)",
                ExpressionAttributeValues=placeholders(id=user.id, secret=secret, expires=expires_at),
            )
        except ConditionFailed:
            raise Conflict("Multi-factor sign-in is already on") from None

    def enable_totp(
        self,
        user: User,
        pending: PendingTotp,
        *,
        step: int,
        recovery_codes: frozenset[str],
        along: Sequence[Write],
    ) -> User:
        """Make ``pending`` ``user``'s factor, with the step of the code that confirmed it and
        the recovery codes' digests, in a new session generation, with ``along``."""
        after = replace(
            user,
            totp=Totp(pending.secret, step, recovery_codes),
            pending_totp=None,
            session_generation=user.session_generation + 1,
        )
        self.update_user(
            user,
            "SET mfa_enabled = :true, totp_secret = :secret, totp_last_step = :step, "
            "recovery_codes = :codes, session_generation = :next "
            "REMOVE totp_pending, totp_pending_expires_at",
            {
                "true": True,
                "secret": pending.secret,
                "step": step,
                "codes": set(recovery_codes),
                "next": after.session_generation,
            },
            condition=f"{_UNCHANGED_CONDITION} AND totp_pending = :secret "
            "AND attribute_not_exists(totp_secret)",
            along=along,
            conflict="The enrolment changed meanwhile; start again",
        )
        return after

    def spend_code(self, user: User, code: CodeUse) -> Write:
        """The transaction Update that spends ``code`` of ``user``, if it is still unused and the
        account unchanged (``UNCHANGED`` names its condition)."""
        return Write(
            UNCHANGED,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_attributes(self.key(user.username)),
                    "UpdateExpression": code.update,
                    "ConditionExpression": f"{_UNCHANGED_CONDITION} AND {code.condition}",
                    "ExpressionAttributeValues": {
                        **placeholders(id=user.id, seen=user.session_generation),
                        **placeholders(**code.values, **code.spent_values),
                    },
                }
            },
        )

    def disable_totp(
        self, user: User, code: CodeUse | None, *, along: Sequence[Write] = (), end_sessions: bool = False
    ) -> User:
        """Remove ``user``'s factor and recovery codes, if ``code`` (None: an operator's reset) is
        still unused; with ``along``. With ``end_sessions``, in a new session generation."""
        after = replace(user, totp=None, pending_totp=None)
        condition = _UNCHANGED_CONDITION + (f" AND {code.condition}" if code else "")
        values = {"false": False, **(code.values if code else {})}
        update = "SET mfa_enabled = :false"
        if end_sessions:
            after = replace(after, session_generation=user.session_generation + 1)
            update += ", session_generation = :next"
            values["next"] = after.session_generation
        self.update_user(
            user,
            f"{update} REMOVE totp_secret, totp_last_step, recovery_codes, "
            "totp_pending, totp_pending_expires_at",
            values,
            condition=condition,
            along=along,
            conflict="The code was used or the account changed meanwhile",
        )
        return after

    # --- the directory -------------------------------------------------------------------------

    def username_of(self, user_id: str) -> str | None:
        """The username of the user with ``user_id`` (index ``ById``), or None."""
        response = self.call(
            "query",
            IndexName=ID_INDEX,
            KeyConditionExpression="id = :id",
            ExpressionAttributeValues=placeholders(id=user_id),
        )
        items = [from_attributes(item) for item in response.get("Items", [])]
        return items[0]["username"] if items else None

    def page(self, *, limit: int, after: str | None) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` users in username order after the username ``after``, and whether more
        follow: one Query of ``limit + 1`` items on the ``Directory`` index, which projects only
        what a listing shows (``User.public``'s fields)."""
        request = {
            "IndexName": DIRECTORY_INDEX,
            "KeyConditionExpression": "directory = :directory",
            "ExpressionAttributeValues": placeholders(directory=DIRECTORY),
        }
        start = {"directory": DIRECTORY, "username": after} if after is not None else None
        items, more = self.query_page(request, limit=limit, start=start)
        # Items stored before the administration features may lack the state attributes.
        return [public_fields({"disabled": False, "mfa_enabled": False, **item}) for item in items], more

    def deletion(self, user: User, code: CodeUse | None = None) -> list[Write]:
        """The transaction writes that delete ``user``, if unchanged (and ``code`` unused), and
        count one enabled admin fewer if it was one."""
        condition = _UNCHANGED_CONDITION + (f" AND {code.condition}" if code else "")
        values = placeholders(id=user.id, seen=user.session_generation, **(code.values if code else {}))
        delete = {
            "Delete": {
                "TableName": self.table,
                "Key": to_attributes(self.key(user.username)),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }
        return [Write(UNCHANGED, delete), *self._admin_count_change(user, False)]


LAST_ADMIN = "This would leave no enabled admin"
