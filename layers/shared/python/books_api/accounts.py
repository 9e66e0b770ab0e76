"""Sign-up, log-in and the caller's profile: the account use cases, free of any event shape."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any, NoReturn

from books_api import passwords
from books_api.config import AccountSettings
from books_api.errors import (
    ApiError,
    CredentialsRefused,
    RefreshTokenReused,
    ServiceUnavailable,
    Unauthorized,
)
from books_api.formats import utc_now
from books_api.keys import KeyRing, SigningKey
from books_api.lockout import LoginThrottle
from books_api.observability import logger
from books_api.permissions import READER
from books_api.sessions import Family, NewSession, SessionEnded, SessionStore, TokenSpent
from books_api.tokens import issue_access_token, token_pair
from books_api.users import User, UserRepository, normalize_username

INVALID_CREDENTIALS = "Invalid username or password"
INVALID_REFRESH_TOKEN = "Invalid refresh token"  # noqa: S105 - a message, not a secret


class Accounts:
    def __init__(
        self,
        settings: AccountSettings,
        keys: KeyRing,
        users: UserRepository,
        sessions: SessionStore,
        throttle: LoginThrottle,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.users = users
        self.sessions = sessions
        self.throttle = throttle

    @classmethod
    def from_settings(cls, settings: AccountSettings) -> Accounts:
        return cls(
            settings,
            KeyRing(settings.tokens.signing_secret_arn, max_age=settings.tokens.secret_max_age_seconds),
            UserRepository(settings.users_table),
            SessionStore(settings.tokens_table, refresh_ttl_seconds=settings.refresh_ttl_seconds),
            LoginThrottle(settings.tokens_table, settings.lockout),
        )

    def _token_pair(self, user: User, session: NewSession, key: SigningKey | None = None) -> dict[str, Any]:
        access_token = issue_access_token(
            key or self.keys.current(),
            self.settings.tokens,
            subject=user.id,
            username=user.username,
            roles=user.roles,
            session_id=session.family_id,
        )
        return token_pair(access_token, session.refresh_token, self.settings.tokens)

    def new_user(self, username: str, password: str, roles: tuple[str, ...] = (READER,)) -> User:
        """A validated user with a fresh id and hash (not stored)."""
        name = normalize_username(username)
        passwords.check_policy(password, username=name)
        return User(
            id=str(uuid.uuid4()),
            username=name,
            roles=roles,
            created_at=utc_now(),
            password_hash=passwords.hash_password(password, cost=self.settings.bcrypt_cost),
        )

    def signup(self, username: str, password: str) -> tuple[User, dict[str, Any]]:
        """Create a reader and its first session in one transaction: all of it is stored, or none."""
        user = self.new_user(username, password)
        session = self.sessions.new_session(user)
        pair = self._token_pair(user, session)
        self.users.create(user, along=session.writes)
        return user, pair

    def _authenticate(self, username: str, password: str, *, rehash: bool = True) -> User:
        """The user whose password this is, checked under the lockout; one 401 for every other case.

        The lockout admits the check first (``LoginThrottle.admit``: one conditional write, or a
        429 without any bcrypt work); then one GetItem reads the user and one check at the
        configured cost runs, against a dummy hash when there is no such user. A success resets
        the username's count before anything else is written, so a later failure (say, of the
        session's write) cannot leave it counted. With ``rehash``, a hash of another cost than
        the configured one is replaced.
        """
        try:
            name: str | None = normalize_username(username)
        except ApiError:
            name = None
        if name:
            self.throttle.admit(name, now=int(time.time()))
        user = self.users.get(name) if name else None
        cost = self.settings.bcrypt_cost
        matches = passwords.verify_password(password, user.password_hash if user else None, cost=cost)
        if user is None or not matches:
            raise CredentialsRefused(INVALID_CREDENTIALS, username=user.username if user else None)
        self.throttle.clear(user.username)
        if rehash and passwords.needs_rehash(user.password_hash, cost=cost):
            user = self._rehash(user, password)
        return user

    def _rehash(self, user: User, password: str) -> User:
        """Store ``password`` hashed at the configured cost, if the hash is still the one checked.

        Not a password change: no session ends. Best effort: the login goes on if it fails.
        """
        password_hash = passwords.hash_password(password, cost=self.settings.bcrypt_cost)
        try:
            replaced = self.users.replace_hash(user, password_hash)
        except ServiceUnavailable:
            replaced = False
        if not replaced:
            return user
        logger.info("Password rehashed at the configured cost", extra={"user_id": user.id})
        return replace(user, password_hash=password_hash)

    def login(self, username: str, password: str) -> tuple[User, dict[str, Any]]:
        """The user and a token pair for the right password, in a new session."""
        user = self._authenticate(username, password)
        session = self.sessions.new_session(user)
        pair = self._token_pair(user, session)
        self.sessions.start(session)
        return user, pair

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Spend ``refresh_token`` for a new pair in the same session.

        A spent token presented again (a replay, or the loser of a race) revokes its whole family.
        """
        now = int(time.time())
        record = self.sessions.refresh_record(refresh_token)
        if record is None or record.expires_at <= now:
            raise Unauthorized(INVALID_REFRESH_TOKEN)
        family = self.sessions.family(record.family_id)
        if family is None:
            raise Unauthorized(INVALID_REFRESH_TOKEN)
        if record.spent:
            self._revoke_on_reuse(family)
        user = self.users.get(family.username)
        if (
            user is None
            or user.id != family.user_id
            or not family.active(now=now, generation=user.session_generation)
        ):
            raise Unauthorized(INVALID_REFRESH_TOKEN)
        key = self.keys.current()
        try:
            token = self.sessions.rotate(record, family)
        except TokenSpent:
            self._revoke_on_reuse(family)
        except SessionEnded:
            raise Unauthorized(INVALID_REFRESH_TOKEN) from None
        access_token = issue_access_token(
            key,
            self.settings.tokens,
            subject=user.id,
            username=user.username,
            roles=user.roles,
            session_id=family.id,
        )
        return token_pair(access_token, token, self.settings.tokens)

    def _revoke_on_reuse(self, family: Family) -> NoReturn:
        self.sessions.revoke_family(family.id, user_id=family.user_id)
        logger.warning("Refresh token reused; session revoked", extra={"user_id": family.user_id})
        raise RefreshTokenReused(INVALID_REFRESH_TOKEN)

    def logout(self, *, subject: str, session_id: str, refresh_token: str | None) -> None:
        """Revoke the caller's session and, if given, the session of ``refresh_token`` (if theirs)."""
        self.sessions.revoke_family(session_id, user_id=subject)
        if refresh_token:
            record = self.sessions.refresh_record(refresh_token)
            if record is not None and record.family_id != session_id:
                self.sessions.revoke_family(record.family_id, user_id=subject)

    def _with_password(self, user: User, new_password: str) -> User:
        """``user`` with a hash of ``new_password`` and a new session generation (not stored)."""
        passwords.check_policy(new_password, username=user.username)
        password_hash = passwords.hash_password(new_password, cost=self.settings.bcrypt_cost)
        return replace(user, password_hash=password_hash, session_generation=user.session_generation + 1)

    def _store_password(self, before: User, changed: User, session: NewSession | None = None) -> None:
        """Store ``changed``'s hash and generation over ``before``: every earlier session is void.

        A ``session`` of the new generation starts in the same transaction, so a failure leaves
        the old password and sessions as they were, never a half change.
        """
        along = [
            self.sessions.generation_write(before, changed.session_generation),
            *(session.writes if session else []),
        ]
        self.users.change_password(before, changed.password_hash, along=along)

    def change_password(
        self, *, subject: str, username: str, current_password: str, new_password: str
    ) -> dict[str, Any]:
        """Check the current password (under the lockout), set the new one, revoke every session,
        and start a new one for the caller."""
        try:
            user = self._authenticate(username, current_password, rehash=False)
        except Unauthorized:
            raise Unauthorized("Current password is incorrect") from None
        if user.id != subject:
            raise Unauthorized("The account no longer exists")
        key = self.keys.current()  # before any write: a 503 must leave the account as it was
        changed = self._with_password(user, new_password)
        session = self.sessions.new_session(changed)
        self._store_password(user, changed, session)
        return self._token_pair(changed, session, key)

    def set_user(self, username: str, password: str, roles: tuple[str, ...]) -> User:
        """Create ``username`` with ``roles``, or give an existing one this password and these roles
        (revoking its sessions): what an operator does for the first admin or a lost password."""
        existing = self.users.get(normalize_username(username))
        if existing is None:
            user = self.new_user(username, password, roles)
            self.users.create(user)
            return user
        changed = self._with_password(existing, password)
        self._store_password(existing, changed)
        self.users.set_roles(changed.username, roles)
        return replace(changed, roles=roles)

    def profile(self, *, subject: str, username: str) -> User:
        user = self.users.get(username)
        if user is None or user.id != subject:
            raise Unauthorized("The account no longer exists")
        return user
