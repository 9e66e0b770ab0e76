"""Sign-up, log-in, multi-factor sign-in and the caller's own account: the account use cases,
free of any event shape."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any, NoReturn

from books_api import mfa, passwords
from books_api.budget import RETRY_AFTER_SECONDS
from books_api.config import AccountSettings
from books_api.dal import TransactionCancelled
from books_api.directory import canonical_roles, erase
from books_api.errors import (
    ApiError,
    Conflict,
    CredentialsRefused,
    RefreshTokenReused,
    ServiceUnavailable,
    Unauthorized,
)
from books_api.formats import utc_now
from books_api.keys import KeyRing, SigningKey
from books_api.lockout import LoginThrottle, mfa_lock_name
from books_api.observability import logger
from books_api.permissions import READER
from books_api.sessions import Family, NewSession, SessionEnded, SessionStore, TokenSpent
from books_api.tokens import issue_access_token, token_pair
from books_api.users import CodeUse, User, UserRepository, normalize_username

INVALID_CREDENTIALS = "Invalid username or password"
INVALID_REFRESH_TOKEN = "Invalid refresh token"  # noqa: S105 - a message, not a secret
INVALID_MFA_TOKEN = "Invalid or expired MFA token"  # noqa: S105 - a message, not a secret
INVALID_CODE = "Invalid code"
CODE_REQUIRED = "A code is required: multi-factor sign-in is on"


class Accounts:
    def __init__(
        self,
        settings: AccountSettings,
        *,
        keys: KeyRing,
        users: UserRepository,
        sessions: SessionStore,
        throttle: LoginThrottle,
        challenges: mfa.MfaChallenges,
        box: mfa.SecretBox,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.users = users
        self.sessions = sessions
        self.throttle = throttle
        self.challenges = challenges
        self.box = box

    @classmethod
    def from_settings(cls, settings: AccountSettings) -> Accounts:
        return cls(
            settings,
            keys=KeyRing(settings.tokens.signing_secret_arn, max_age=settings.tokens.secret_max_age_seconds),
            users=UserRepository(settings.users_table),
            sessions=SessionStore(settings.tokens_table, refresh_ttl_seconds=settings.refresh_ttl_seconds),
            throttle=LoginThrottle(settings.tokens_table, settings.lockout),
            challenges=mfa.MfaChallenges(settings.tokens_table),
            box=mfa.SecretBox(settings.mfa_key_id),
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
        configured cost runs, against a dummy hash when there is no such user. A disabled user
        is refused like a wrong password, after the same check. A success resets
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
        if user is None or not matches or user.disabled:
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
        """The user and a token pair for the right password, in a new session; or, when the user
        has multi-factor sign-in on, an MFA token to complete it with (``complete_mfa``)."""
        user = self._authenticate(username, password)
        if user.mfa_enabled:
            token = self.challenges.issue(user)
            return user, {"mfa_required": True, "mfa_token": token, "expires_in": mfa.MFA_TOKEN_TTL_SECONDS}
        session = self.sessions.new_session(user)
        pair = self._token_pair(user, session)
        self._start(user, session.writes)
        return user, pair

    def _start(self, user: User, writes: list[Any], refused: str = INVALID_CREDENTIALS) -> None:
        """Store a new session's ``writes`` for ``user``, if the account is still as it was read:
        one deleted, disabled or re-roled meanwhile gets no session (a 401 ``refused``)."""
        try:
            self.sessions.transact([*writes, self.users.unchanged(user)])
        except TransactionCancelled:
            raise Unauthorized(refused) from None

    def complete_mfa(self, mfa_token: str, code: str) -> tuple[User, dict[str, Any]]:
        """The token pair a password login's ``mfa_token`` and a code (TOTP or recovery) earn.

        The code is admitted by the lockout of the user's MFA codes first, so at most its
        threshold are checked per window however many arrive at once. The code, the MFA token
        and the new session are written in one transaction, so a code and a token each work once.
        """
        now = int(time.time())
        challenge = self.challenges.find(mfa_token, now=now)
        if challenge is None:
            raise Unauthorized(INVALID_MFA_TOKEN)
        self.throttle.admit(mfa_lock_name(challenge.user_id), now=now)
        user = self.users.get(challenge.username)
        if (
            user is None
            or user.id != challenge.user_id
            or user.disabled
            or user.totp is None
            or user.session_generation != challenge.generation
        ):
            raise Unauthorized(INVALID_MFA_TOKEN)
        use = self._verified(user, code)
        key = self.keys.current()
        session = self.sessions.new_session(user)
        spend = [self.users.spend_code(user, use), self.challenges.spending(challenge), *session.writes]
        try:
            self.sessions.transact(spend)
        except TransactionCancelled as cancelled:
            if mfa.MFA_TOKEN_UNSPENT in cancelled.failed:
                raise Unauthorized(INVALID_MFA_TOKEN) from None
            if not cancelled.failed:  # another transaction held an item: nothing was decided
                raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from None
            raise CredentialsRefused(INVALID_CODE, username=user.username) from None
        self.throttle.clear(mfa_lock_name(user.id))
        return user, self._token_pair(user, session, key)

    def _verified(self, user: User, code: str) -> CodeUse:
        """The use of ``code`` for ``user`` (factor on), or a 401. The caller admitted it."""
        use = mfa.verify_code(self.box, user, user.totp, code) if user.totp is not None else None
        if use is None:
            raise CredentialsRefused(INVALID_CODE, username=user.username)
        return use

    def _check_code(self, user: User, code: str | None) -> CodeUse | None:
        """For a user with a factor on, ``code`` admitted by the MFA lockout and verified; None
        for a user without one."""
        if user.totp is None:
            return None
        if not code:
            raise Unauthorized(CODE_REQUIRED)
        self.throttle.admit(mfa_lock_name(user.id), now=int(time.time()))
        return self._verified(user, code)

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
            or user.disabled
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
        user = self._reauthenticate(subject=subject, username=username, password=current_password)
        key = self.keys.current()  # before any write: a 503 must leave the account as it was
        changed = self._with_password(user, new_password)
        session = self.sessions.new_session(changed)
        self._store_password(user, changed, session)
        return self._token_pair(changed, session, key)

    def set_user(self, username: str, password: str, roles: tuple[str, ...]) -> User:
        """Create ``username`` with ``roles``, or give an existing one this password and these roles,
        enabled (revoking its sessions): what an operator does for the first admin or a lost password."""
        roles = canonical_roles(roles)
        existing = self.users.get(normalize_username(username))
        if existing is None:
            user = self.new_user(username, password, roles)
            self.users.create(user)
            return user
        changed = self._with_password(existing, password)
        ended = self.sessions.generation_write(existing, changed.session_generation)
        self.users.set_password_and_roles(existing, changed.password_hash, roles, along=[ended])
        return replace(changed, roles=roles, disabled=False)

    def profile(self, *, subject: str, username: str) -> User:
        user = self.users.get(username)
        if user is None or user.id != subject:
            raise Unauthorized("The account no longer exists")
        return user

    def _reauthenticate(self, *, subject: str, username: str, password: str) -> User:
        """The caller's account, for the right current password (checked under the lockout)."""
        try:
            user = self._authenticate(username, password, rehash=False)
        except Unauthorized:
            raise Unauthorized("Current password is incorrect") from None
        if user.id != subject:
            raise Unauthorized("The account no longer exists")
        return user

    def delete_account(self, *, subject: str, username: str, password: str, code: str | None) -> None:
        """Erase the caller (password, and a code when a factor is on): their item, sessions,
        lockout records and factor. The username is free again afterwards."""
        user = self._reauthenticate(subject=subject, username=username, password=password)
        use = self._check_code(user, code)
        erase(self.users, self.sessions, user, use)
        if use is not None:
            self.throttle.clear(mfa_lock_name(user.id))

    # --- multi-factor sign-in: enrolment ---------------------------------------------------------

    def start_totp(self, *, subject: str, username: str) -> dict[str, str]:
        """A new TOTP secret for the caller, kept (encrypted) until a code confirms it; a 409 if a
        factor is already on. Starting again replaces an enrolment not yet confirmed."""
        user = self.profile(subject=subject, username=username)
        if user.mfa_enabled:
            raise Conflict("Multi-factor sign-in is already on")
        secret = mfa.new_secret()
        sealed = self.box.seal(secret, user_id=user.id)
        self.users.start_totp(user, sealed, int(time.time()) + mfa.ENROLMENT_TTL_SECONDS)
        uri = mfa.otpauth_uri(secret, username=user.username, issuer=self.settings.mfa_issuer)
        return {"secret": secret, "otpauth_uri": uri}

    def confirm_totp(self, *, subject: str, username: str, session_id: str, code: str) -> list[str]:
        """Turn the caller's enrolment on with its first code: every other session of theirs ends
        (the caller's is carried into the new generation), and ten recovery codes are returned,
        once; only their digests are kept."""
        now = int(time.time())
        user = self.profile(subject=subject, username=username)
        pending = user.pending_totp
        if user.mfa_enabled:
            raise Conflict("Multi-factor sign-in is already on")
        if pending is None or pending.expires_at <= now:
            raise Conflict("No enrolment to confirm: start one with POST /users/me/mfa/totp")
        self.throttle.admit(mfa_lock_name(user.id), now=now)
        secret = self.box.open(pending.secret, user_id=user.id)
        step = mfa.matching_step(secret, code, after=-1) if mfa.is_totp_code(code) else None
        if step is None:
            raise CredentialsRefused(INVALID_CODE, username=user.username)
        codes = mfa.new_recovery_codes()
        generation = user.session_generation + 1
        self.users.enable_totp(
            user,
            pending,
            step=step,
            recovery_codes=frozenset(mfa.recovery_digest(user.id, code) for code in codes),
            along=[
                self.sessions.generation_write(user, generation),
                self.sessions.keep_session(session_id, user_id=user.id, generation=generation),
            ],
        )
        self.throttle.clear(mfa_lock_name(user.id))
        return codes

    def disable_totp(self, *, subject: str, username: str, password: str, code: str) -> None:
        """Turn the caller's factor off, with their password and a code (TOTP or recovery)."""
        user = self._reauthenticate(subject=subject, username=username, password=password)
        if user.totp is None:
            raise Conflict("Multi-factor sign-in is off")
        use = self._check_code(user, code)
        self.users.disable_totp(user, use)
        self.throttle.clear(mfa_lock_name(user.id))
