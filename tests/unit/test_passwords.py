"""Password policy and hashing: bcrypt's 72-byte limit, NUL, non-ASCII, common passwords, the dummy hash."""

from __future__ import annotations

import bcrypt
import pytest

from books_api import passwords
from books_api.errors import BadRequest
from tools import common_passwords

COST = 4


def test_passwords_past_72_bytes_are_not_truncated() -> None:
    base = "x7#" * 30  # 90 bytes
    hashed = passwords.hash_password(base, cost=COST)
    assert passwords.verify_password(base, hashed)
    assert not passwords.verify_password(base[:72], hashed)
    assert not passwords.verify_password(base[:-1] + "y", hashed)


def test_the_longest_allowed_password_of_four_byte_characters_hashes() -> None:
    password = "🔑" * passwords.MAX_LENGTH  # 512 bytes of UTF-8
    passwords.check_policy(password, username="alice")
    assert passwords.verify_password(password, passwords.hash_password(password, cost=COST))


def test_nfkc_equivalent_passwords_are_one_password() -> None:
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in "fullwidth") + "-pass-42"
    hashed = passwords.hash_password(fullwidth, cost=COST)
    assert passwords.verify_password("fullwidth-pass-42", hashed)


def test_non_ascii_passwords_are_distinct() -> None:
    hashed = passwords.hash_password("pässwörd-über-9", cost=COST)
    assert passwords.verify_password("pässwörd-über-9", hashed)
    assert not passwords.verify_password("passwort-uber-9", hashed)


def test_bcrypt_never_sees_a_nul_byte() -> None:
    seen: list[bytes] = []
    real = bcrypt.hashpw

    def spy(password: bytes, salt: bytes) -> bytes:
        seen.append(password)
        return real(password, salt)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(bcrypt, "hashpw", spy)
        passwords.hash_password("a\x00b-long-enough", cost=COST)
    assert b"\x00" not in seen[0]
    assert len(seen[0]) <= 72


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1!", "8 to"),
        ("x" * (passwords.MAX_LENGTH + 1), "8 to"),
        ("with\x00nul-byte", "NUL"),
        ("password123", "common"),
        ("Iloveyou1", "common"),
        ("alice-the-user", "username"),
    ],
)
def test_policy_names_the_rule_broken(password: str, rule: str) -> None:
    with pytest.raises(BadRequest) as raised:
        passwords.check_policy(password, username="alice-the-user")
    assert raised.value.errors[0]["field"] == "password"
    assert rule in raised.value.errors[0]["message"]


def test_at_least_64_characters_are_allowed() -> None:
    passwords.check_policy("a-long-and-unusual-passphrase-" * 2 + "end!", username="alice")


def test_the_bundled_list_is_zxcvbns_and_has_at_least_10000_entries() -> None:
    bundled = (passwords.resources.files("books_api") / "data/common-passwords.txt.gz").read_bytes()
    assert bundled == common_passwords.render()
    assert len(passwords.common_passwords()) >= 10_000


def test_wrong_or_corrupt_hashes_verify_false() -> None:
    assert not passwords.verify_password("anything-at-all", "not-a-bcrypt-hash")
    assert not passwords.verify_password(
        "anything-at-all", passwords.hash_password("other-password-1", cost=COST)
    )


@pytest.mark.parametrize("cost", [4, 10, 12])
def test_the_dummy_hash_is_a_real_bcrypt_hash_at_the_cost(cost: int) -> None:
    dummy = passwords.dummy_hash(cost).encode()
    assert dummy.split(b"$")[2] == f"{cost:02d}".encode()
    assert len(dummy) == 60
    if cost == 4:
        # checkpw runs the full work (a malformed hash would raise instead, and answer early).
        assert bcrypt.checkpw(b"x", dummy) is False
