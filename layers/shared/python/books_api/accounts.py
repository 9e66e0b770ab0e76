"""Sign-up, log-in and the caller's profile: the account use cases, free of any event shape."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from books_api import aws, passwords
from books_api.config import AccountSettings
from books_api.errors import (
    ApiError,
    Conflict,
    CredentialsRefused,
    RefreshTokenReused,
    ServiceUnavailable,
    Unauthorized,
)
from books_api.keys import KeyRing, SigningKey
from books_api.lockout import LoginThrottle
from books_api.observability import logger
from books_api.sessions import Family, NewSession, SessionStore
from books_api.tokens import issue_access_token, token_pair
from books_api.users import READER, User, UserRepository, normalize_username

INVALID_CREDENTIALS = "Invalid username or password"
INVALID_REFRESH_TOKEN = "Invalid refresh token"  # noqa: S105 - a message, not a secret


CONFLICT_RETRIES = 3


def _cancellation_code(error: ClientError, index: int) -> str | None:
    """The reason a cancelled transaction's write number ``index`` failed, if that is why."""
    if aws.error_code(error) != "TransactionCanceledException":
        return None
    reasons = error.response.get("CancellationReasons") or []
    code = reasons[index].get("Code") if index < len(reasons) else None
    return code if code not in (None, "None") else None


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
        try:
            self.sessions.write([self.users.put_new_item(user), *session.writes])
        except ClientError as error:
            if _cancellation_code(error, 0) in ("ConditionalCheckFailed", "TransactionConflict"):
                raise Conflict("Username is already taken") from None
            raise
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
        if not passwords.verify_password(password, user.password_hash if user else None, cost=cost):
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
        self.sessions.write(session.writes)
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
        token, writes = self.sessions.rotation(record, family)
        try:
            self._write_contended(writes)
        except ClientError as error:
            code = _cancellation_code(error, 0)
            if code == "ConditionalCheckFailed":
                self._revoke_on_reuse(family)
            if code == "TransactionConflict":
                raise ServiceUnavailable(retry_after=aws.RETRY_AFTER_SECONDS) from error
            # The family was revoked (2) or its owner's sessions ended (3) since they were read.
            if code is not None or "ConditionalCheckFailed" in (
                _cancellation_code(error, 2),
                _cancellation_code(error, 3),
            ):
                raise Unauthorized(INVALID_REFRESH_TOKEN) from None
            raise
        access_token = issue_access_token(
            key,
            self.settings.tokens,
            subject=user.id,
            username=user.username,
            roles=user.roles,
            session_id=family.id,
        )
        return token_pair(access_token, token, self.settings.tokens)

    def _write_contended(self, writes: list[dict[str, Any]]) -> None:
        """Write a transaction, retrying the few times DynamoDB cancels it for a concurrent one."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self.sessions.write(writes)
                return
            except ClientError as error:
                if _cancellation_code(error, 0) != "TransactionConflict" or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(0.02 * (attempt + 1))

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

    def _set_password(
        self, user: User, new_password: str, *, start_session: bool = False
    ) -> tuple[User, NewSession | None]:
        """Store a new hash and raise the session generation: every earlier session is void.

        With ``start_session``, a session of the new generation starts in the same transaction,
        so a failure leaves the old password and sessions as they were, never a half change.
        """
        passwords.check_policy(new_password, username=user.username)
        password_hash = passwords.hash_password(new_password, cost=self.settings.bcrypt_cost)
        generation = user.session_generation + 1
        changed = replace(user, password_hash=password_hash, session_generation=generation)
        session = self.sessions.new_session(changed) if start_session else None
        try:
            self.sessions.write(
                [
                    self.users.new_password_update(user, password_hash),
                    self.sessions.generation_write(user, generation),
                    *(session.writes if session else []),
                ]
            )
        except ClientError as error:
            if aws.error_code(error) == "TransactionCanceledException" and not aws.is_unavailable(error):
                raise Conflict("The account changed meanwhile; try again") from None
            raise
        return changed, session

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
        user, session = self._set_password(user, new_password, start_session=True)
        return self._token_pair(user, session, key)

    def set_user(self, username: str, password: str, roles: tuple[str, ...]) -> User:
        """Create ``username`` with ``roles``, or give an existing one this password and these roles
        (revoking its sessions): what an operator does for the first admin or a lost password."""
        existing = self.users.get(normalize_username(username))
        if existing is None:
            user = self.new_user(username, password, roles)
            self.sessions.write([self.users.put_new_item(user)])
            return user
        user, _ = self._set_password(existing, password)
        self.users.set_roles(user.username, roles)
        return replace(user, roles=roles)

    def profile(self, *, subject: str, username: str) -> User:
        user = self.users.get(username)
        if user is None or user.id != subject:
            raise Unauthorized("The account no longer exists")
        return user
