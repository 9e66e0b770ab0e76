"""Sign-up, log-in and the caller's profile: the account use cases, free of any event shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from books_api import aws, passwords
from books_api.config import AccountSettings
from books_api.errors import ApiError, Conflict, Unauthorized
from books_api.keys import KeyRing
from books_api.sessions import NewSession, SessionStore
from books_api.tokens import issue_access_token, token_pair
from books_api.users import READER, User, UserRepository, normalize_username

INVALID_CREDENTIALS = "Invalid username or password"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Accounts:
    def __init__(
        self, settings: AccountSettings, keys: KeyRing, users: UserRepository, sessions: SessionStore
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.users = users
        self.sessions = sessions

    @classmethod
    def from_settings(cls, settings: AccountSettings) -> Accounts:
        return cls(
            settings,
            KeyRing(settings.tokens.signing_secret_arn, max_age=settings.tokens.secret_max_age_seconds),
            UserRepository(settings.users_table),
            SessionStore(settings.tokens_table, refresh_ttl_seconds=settings.refresh_ttl_seconds),
        )

    def _token_pair(self, user: User, session: NewSession) -> dict[str, Any]:
        access_token = issue_access_token(
            self.keys.current(),
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
        try:
            self.sessions.write([self.users.put_new_item(user), *session.writes])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or [{}]
            if aws.error_code(error) == "TransactionCanceledException" and reasons[0].get("Code") in (
                "ConditionalCheckFailed",
                "TransactionConflict",
            ):
                raise Conflict("Username is already taken") from None
            raise
        return user, pair

    def login(self, username: str, password: str) -> dict[str, Any]:
        """A token pair for the right password; one 401 for every other case, at the same bcrypt cost."""
        try:
            name: str | None = normalize_username(username)
        except ApiError:
            name = None
        user = self.users.get(name) if name else None
        matches = passwords.verify_password(
            password, user.password_hash if user else passwords.dummy_hash(self.settings.bcrypt_cost)
        )
        if user is None or not matches:
            raise Unauthorized(INVALID_CREDENTIALS)
        session = self.sessions.new_session(user)
        pair = self._token_pair(user, session)
        self.sessions.write(session.writes)
        return pair

    def profile(self, *, subject: str, username: str) -> User:
        user = self.users.get(username)
        if user is None or user.id != subject:
            raise Unauthorized("The account no longer exists")
        return user
