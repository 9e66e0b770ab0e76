"""User administration: the users list, one user by id, roles and disabled state, erasure.

The rules, the same for the API's admins and the operator's CLI:
- A change of roles or of the disabled state starts a new session generation: every session of
  the user ends at once for refresh, and at once for access tokens under strict revocation.
- The last enabled admin cannot be demoted, disabled or deleted (a 409): the users table counts
  enabled admins, and every change that would lower the count is a transaction conditional on
  at least two, so two admins acting at once cannot both succeed.
- Erasure deletes the user's item (conditional on it being unchanged since read), then every
  item of theirs in the tokens table (sessions, refresh tokens, MFA tokens, the generation
  record) and the lockout records of their username and their MFA codes. The first write ends
  every session, so a session started while the rest is deleted is void.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from books_api.config import DirectorySettings
from books_api.errors import NotFound
from books_api.limits import USER_ID_PATTERN
from books_api.lockout import LoginThrottle, mfa_lock_name
from books_api.pagination import UserPageTokens
from books_api.permissions import ADMIN, READER
from books_api.sessions import SessionStore
from books_api.users import CodeUse, User, UserRepository

_USER_ID = re.compile(USER_ID_PATTERN)


def canonical_roles(roles: Sequence[str]) -> tuple[str, ...]:
    """Roles as stored: every user reads; admin adds writing (duplicates are one role)."""
    return (READER, ADMIN) if ADMIN in roles else (READER,)


def erase(users: UserRepository, sessions: SessionStore, user: User, code: CodeUse | None = None) -> None:
    """Delete ``user`` and everything that names them (see the module's docstring).

    A 409 if the account changed since ``user`` was read, if ``code`` was used meanwhile, or if
    ``user`` is the last enabled admin.
    """
    ended = sessions.generation_write(user, user.session_generation + 1)
    users.transact_or_conflict(
        [*users.deletion(user, code), ended], "The account changed meanwhile; try again"
    )
    locks = [LoginThrottle.key(user.username), LoginThrottle.key(mfa_lock_name(user.id))]
    sessions.erase_user(user.id, lock_keys=locks)


@dataclass(frozen=True)
class UserPage:
    items: list[dict[str, Any]]
    next_token: str | None


class UserDirectory:
    def __init__(self, users: UserRepository, sessions: SessionStore, page_tokens: UserPageTokens) -> None:
        self.users = users
        self.sessions = sessions
        self.page_tokens = page_tokens

    @classmethod
    def from_settings(cls, settings: DirectorySettings) -> UserDirectory:
        return cls(
            UserRepository(settings.users_table),
            SessionStore(settings.tokens_table, refresh_ttl_seconds=settings.refresh_ttl_seconds),
            UserPageTokens.from_secret(
                settings.page_token_secret_arn, max_age=settings.secret_max_age_seconds
            ),
        )

    def page(self, *, limit: int, next_token: str | None) -> UserPage:
        """Up to ``limit`` users in username order, after the page ``next_token`` ended."""
        after = self.page_tokens.decode(next_token)["username"] if next_token is not None else None
        items, more = self.users.page(limit=limit, after=after)
        token = self.page_tokens.encode({"username": items[-1]["username"]}) if more and items else None
        return UserPage(items, token)

    def get(self, user_id: str) -> User:
        """The user with ``user_id``, read consistently, or a 404 (any id not a UUIDv4 too)."""
        if not _USER_ID.fullmatch(user_id):
            raise NotFound("No such user")
        username = self.users.username_of(user_id)
        user = self.users.get(username) if username is not None else None
        if user is None or user.id != user_id:
            raise NotFound("No such user")
        return user

    def by_name(self, username: str) -> User:
        user = self.users.get(username)
        if user is None:
            raise NotFound(f"No user {username!r}")
        return user

    def update(self, user: User, *, roles: Sequence[str] | None = None, disabled: bool | None = None) -> User:
        """``user`` with these roles and this disabled state (None: as they are); if either
        changes, every session of theirs ends. A 409 if no enabled admin would remain."""
        new_roles = canonical_roles(roles) if roles is not None else user.roles
        new_disabled = user.disabled if disabled is None else disabled
        if new_roles == user.roles and new_disabled == user.disabled:
            return user
        ended = self.sessions.generation_write(user, user.session_generation + 1)
        return self.users.set_state(user, roles=new_roles, disabled=new_disabled, along=[ended])

    def delete(self, user: User) -> None:
        erase(self.users, self.sessions, user)

    def reset_mfa(self, user: User) -> User:
        """Turn ``user``'s multi-factor sign-in off (a lost authenticator): their sessions end,
        and their next login needs only the password."""
        ended = self.sessions.generation_write(user, user.session_generation + 1)
        return self.users.disable_totp(user, None, along=[ended], end_sessions=True)
