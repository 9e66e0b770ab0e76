"""Multi-factor sign-in: TOTP (RFC 6238, by pyotp), its secret under KMS, recovery codes, and the
short-lived MFA tokens a password login hands out instead of tokens when a factor is on.

- A TOTP code is 6 digits for a 30-second time step; one of the step before, the current one or
  the step after is accepted (clock skew), and only for a step later than the last one accepted:
  a code works once. Spending it is a conditional write of the step (``CodeUse``), so of two
  requests with one code at most one gets through.
- The secret (160 bits) is encrypted by KMS under the stack's key, with an encryption context
  that binds it to its user: a ciphertext copied to another user's item does not decrypt.
- Recovery codes: ten of 80 random bits each, shown once; stored as SHA-256 digests keyed with
  the user id (80 bits need no slow hash: no guess list reaches them), spent by a conditional
  removal from the set.
- MFA tokens: 256-bit random strings, stored only as digests (``MFA#<sha256>`` in the tokens
  table, TTL), alive 5 minutes, spent by the sign-in they complete. They are not JWTs: the
  authorizer can never take one for an access token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp

from books_api import aws
from books_api.dal import Repository, Write, to_attributes
from books_api.limits import (
    RECOVERY_CODE_COUNT,
    RECOVERY_CODE_LENGTH,
    TOTP_CODE_PATTERN,
    TOTP_DIGITS,
    TOTP_STEP_SECONDS,
)
from books_api.opaque import new_opaque_token, token_digest
from books_api.users import CodeUse, Totp, User

SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation
SKEW_STEPS = 1
MFA_TOKEN_TTL_SECONDS = 300
ENROLMENT_TTL_SECONDS = 600
MFA_TOKEN_UNSPENT = "mfa token unspent"  # noqa: S105 - a purpose, not a secret
_PURPOSE = "totp"
_TOTP_CODE = re.compile(TOTP_CODE_PATTERN)


def new_secret() -> str:
    """A fresh TOTP secret, base32 (what authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def otpauth_uri(secret: str, *, username: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (from a QR code, usually)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def matching_step(secret: str, code: str, *, after: int, now: float | None = None) -> int | None:
    """The time step within ±SKEW_STEPS of ``now`` whose code ``code`` is, if later than ``after``."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = totp.timecode(datetime.fromtimestamp(time.time() if now is None else now, UTC))
    found = None
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        # Every candidate is compared, in constant time: no early exit tells which step matched.
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after and found is None:
            found = step
    return found


def totp_use(step: int) -> CodeUse:
    """Spending the code of ``step``: only if no code of this step or a later one was accepted."""
    return CodeUse(
        condition="totp_last_step < :code_step",
        update="SET totp_last_step = :code_step",
        values={"code_step": step},
    )


def normalize_recovery_code(code: str) -> str:
    return code.replace("-", "").upper()


def new_recovery_codes() -> list[str]:
    """Ten codes, as shown to the user: ``ABCD-EFGH-JKLM-NPQR`` (base32, 80 bits)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_LENGTH * 5 // 8)).decode("ascii")
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
    return codes


def recovery_digest(user_id: str, code: str) -> str:
    """What the users table keeps of a recovery code."""
    normalized = normalize_recovery_code(code).encode("ascii")
    return hmac.new(user_id.encode("ascii"), normalized, hashlib.sha256).hexdigest()


def recovery_use(digest: str) -> CodeUse:
    return CodeUse(
        condition="contains(recovery_codes, :code_digest)",
        update="DELETE recovery_codes :code_set",
        values={"code_digest": digest},
        spent_values={"code_set": {digest}},
    )


def is_totp_code(code: str) -> bool:
    """A TOTP code's shape (not a recovery code's), as the request models publish it."""
    return _TOTP_CODE.fullmatch(code) is not None


class SecretBox:
    """TOTP secrets encrypted and decrypted by KMS under the stack's key, bound to their user."""

    def __init__(self, key_id: str, kms: Any | None = None) -> None:
        self.key_id = key_id
        self._kms = kms

    @property
    def kms(self) -> Any:
        return self._kms or aws.client("kms")

    @staticmethod
    def _context(user_id: str) -> dict[str, str]:
        return {"purpose": _PURPOSE, "user_id": user_id}

    def seal(self, secret: str, *, user_id: str) -> bytes:
        with aws.unavailable_on_failure():
            response = self.kms.encrypt(
                KeyId=self.key_id, Plaintext=secret.encode("ascii"), EncryptionContext=self._context(user_id)
            )
        return bytes(response["CiphertextBlob"])

    def open(self, sealed: bytes, *, user_id: str) -> str:
        with aws.unavailable_on_failure():
            response = self.kms.decrypt(
                KeyId=self.key_id, CiphertextBlob=sealed, EncryptionContext=self._context(user_id)
            )
        return bytes(response["Plaintext"]).decode("ascii")


def verify_code(
    box: SecretBox, user: User, totp: Totp, code: str, *, now: float | None = None
) -> CodeUse | None:
    """The use of ``code`` (a TOTP code or an unused recovery code of ``user``), or None."""
    if is_totp_code(code):
        step = matching_step(box.open(totp.secret, user_id=user.id), code, after=totp.last_step, now=now)
        return totp_use(step) if step is not None else None
    digest = recovery_digest(user.id, code)
    known = any(hmac.compare_digest(digest, stored) for stored in totp.recovery_codes)
    return recovery_use(digest) if known else None


@dataclass(frozen=True)
class Challenge:
    """A password login's MFA token, as stored: whose, and of which session generation."""

    digest: str
    user_id: str
    username: str
    generation: int
    expires_at: int


class MfaChallenges(Repository):
    """MFA tokens in the tokens table (``MFA#<sha256>``, expiring by TTL)."""

    @staticmethod
    def key(digest: str) -> dict[str, Any]:
        return {"pk": f"MFA#{digest}"}

    def issue(self, user: User, *, now: int | None = None) -> str:
        token = new_opaque_token()
        issued_at = int(time.time()) if now is None else now
        item = {
            **self.key(token_digest(token)),
            "user_id": user.id,
            "username": user.username,
            "generation": user.session_generation,
            "expires_at": issued_at + MFA_TOKEN_TTL_SECONDS,
        }
        self.call("put_item", Item=to_attributes(item))
        return token

    def find(self, token: str, *, now: int | None = None) -> Challenge | None:
        """The live challenge of ``token``, or None (unknown, spent or expired)."""
        digest = token_digest(token)
        item = self.read(self.key(digest))
        current = int(time.time()) if now is None else now
        if not item or item["expires_at"] <= current:
            return None
        return Challenge(digest, item["user_id"], item["username"], item["generation"], item["expires_at"])

    def spending(self, challenge: Challenge) -> Write:
        """The transaction Delete that spends ``challenge``: it succeeds once."""
        return Write(
            MFA_TOKEN_UNSPENT,
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": to_attributes(self.key(challenge.digest)),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        )
