"""Guards attacked over HTTP the way an attacker would: many requests at the same moment.

Each test fires more simultaneous requests than its guard allows (lockouts of logins, of
password changes and of MFA codes, single use of a username, of a TOTP code, of an MFA token and
of a recovery code, one book's conditional writes, a refresh racing a password change, the last
enabled admin) and asserts the outcome a serial run would give. The in-process versions, which
line the attempts up at each guard's worst moment, are in tests/unit/test_races.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_api.http_client import Client, Reply
from local_api.process import ServerProcess
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, REMOTE, MfaUser, Target, User, password, unique

THRESHOLD = 5  # LockoutThreshold's default
ENVIRONMENTS = 4  # how far the local server scales a function out (its --max-concurrency default)
LAST_ADMIN = {"message": "This would leave no enabled admin"}


@pytest.fixture(scope="module")
def guarded(server_workdir: Path, target: Target) -> Iterator[Target]:
    """Where the guards are attacked: locally, a server of its own (the attacks scale its
    functions out to several workers) whose bcrypt takes as long as a real check (cost 10,
    ~60 ms here), so that many guesses are inside bcrypt at once, as they are on Lambda at cost
    12; against a stack, the stack."""
    if REMOTE:
        yield target
        return
    env_vars = {"Parameters": {**LOCAL_ENV_VARS["Parameters"], "BCRYPT_COST": "10"}}
    with ServerProcess(server_workdir / "guarded", env_vars=env_vars) as server:
        yield Target(Client(server.url), server)


@pytest.fixture(scope="module")
def guarded_admin(guarded: Target, request: pytest.FixtureRequest) -> User:
    if guarded.server is None:
        return request.getfixturevalue("admin")
    return guarded.make_admin()


def statuses(replies: list[Reply]) -> list[int]:
    return sorted(reply.status for reply in replies)


@pytest.mark.parametrize("known", [True, False], ids=["known user", "unknown username"])
def test_twelve_simultaneous_wrong_logins_get_five_401s_and_the_rest_429(
    guarded: Target, known: bool
) -> None:
    username = guarded.signup().username if known else unique("nobody")
    client = guarded.client
    replies = at_once(
        *(
            lambda n=n: client.post(
                "/auth/login", body={"username": username, "password": f"wrong-guess-{n}"}
            )
            for n in range(12)
        )
    )
    assert statuses(replies) == [401] * THRESHOLD + [429] * (12 - THRESHOLD)
    assert all(int(reply.header("retry-after")) >= 1 for reply in replies if reply.status == 429)


def test_twelve_simultaneous_wrong_current_passwords_get_five_401s_and_the_rest_429(guarded: Target) -> None:
    user = guarded.signup()
    client = guarded.client
    replies = at_once(
        *(
            lambda n=n: client.post(
                "/users/me/password",
                token=user.access_token,
                body={"current_password": f"wrong-guess-{n}", "new_password": password()},
            )
            for n in range(12)
        )
    )
    assert statuses(replies) == [401] * THRESHOLD + [429] * (12 - THRESHOLD)
    right = client.post(
        "/users/me/password",
        token=user.access_token,
        body={"current_password": user.password, "new_password": password()},
    )
    assert right.status == 429


def test_eight_simultaneous_signups_for_one_name_give_one_201(guarded: Target) -> None:
    client = guarded.client
    username = unique("twin")
    secrets = [password() for _ in range(8)]
    replies = at_once(
        *(
            lambda secret=secret, n=n: client.post(
                "/auth/signup",
                body={"username": username.upper() if n % 2 else username, "password": secret},
            )
            for n, secret in enumerate(secrets)
        )
    )
    assert statuses(replies) == [201] + [409] * 7
    winner = next(secret for secret, reply in zip(secrets, replies, strict=True) if reply.status == 201)
    losers = [secret for secret in secrets if secret != winner][: THRESHOLD - 1]  # no lockout
    logins = [client.post("/auth/login", body={"username": username, "password": s}).status for s in losers]
    assert logins == [401] * len(losers)
    assert client.post("/auth/login", body={"username": username, "password": winner}).status == 200


def new_book(client: Client, admin: User) -> str:
    reply = client.post("/books", token=admin.access_token, body={"title": "Contested", "author": "A"})
    assert reply.status == 201, reply.text
    return reply.json["id"]


def test_six_simultaneous_deletes_of_one_book_give_one_204(guarded: Target, guarded_admin: User) -> None:
    client, admin = guarded.client, guarded_admin
    book_id = new_book(client, admin)
    replies = at_once(*(lambda: client.request("DELETE", f"/books/{book_id}", token=admin.access_token),) * 6)
    assert statuses(replies) == [204] + [404] * 5
    assert client.get(f"/books/{book_id}", token=admin.access_token).status == 404


def test_simultaneous_replaces_and_a_delete_leave_a_serial_outcome(
    guarded: Target, guarded_admin: User
) -> None:
    client, admin = guarded.client, guarded_admin
    book_id = new_book(client, admin)
    bodies = [{"title": f"Version {n}", "author": f"Author {n}", "year": 1900 + n} for n in range(5)]
    replies = at_once(
        *(
            lambda body=body: client.request("PUT", f"/books/{book_id}", token=admin.access_token, body=body)
            for body in bodies
        ),
        lambda: client.request("DELETE", f"/books/{book_id}", token=admin.access_token),
    )
    *puts, delete = replies
    assert delete.status == 204
    # A replace either came before the delete (200) or found no book (404): never recreated it.
    assert {reply.status for reply in puts} <= {200, 404}
    assert client.get(f"/books/{book_id}", token=admin.access_token).status == 404
    for reply in puts:
        if reply.status == 200:
            assert {key: reply.json[key] for key in ("title", "author", "year")} in bodies


def test_refreshes_racing_a_password_change_never_outlive_it(guarded: Target) -> None:
    user = guarded.signup()
    client = guarded.client
    others = [guarded.login(user.username, user.password) for _ in range(4)]
    *refreshes, change = at_once(
        *(
            lambda other=other: client.post("/auth/refresh", body={"refresh_token": other.refresh_token})
            for other in others
        ),
        lambda: client.post(
            "/users/me/password",
            token=user.access_token,
            body={"current_password": user.password, "new_password": password()},
        ),
    )
    assert change.status == 200, change.text
    for reply in refreshes:
        assert reply.status in (200, 401), reply.text
        if reply.status == 200:  # it came first: the change ended its session all the same
            again = client.post("/auth/refresh", body={"refresh_token": reply.json["refresh_token"]})
            assert again.status == 401


# --- multi-factor sign-in --------------------------------------------------------------------------


@pytest.fixture
def mfa_user(guarded: Target) -> MfaUser:
    return guarded.enable_mfa(guarded.signup())


def mfa_attempts(target: Target, pairs: list[tuple[str, str]]) -> list[Reply]:
    """POST /auth/mfa with each (MFA token, code), all at once, each in a warm execution
    environment of its own: the attempts are then side by side at the guard, as on Lambda,
    rather than one after another behind a cold start."""
    width = min(len(pairs), ENVIRONMENTS)
    for _ in range(width):  # each round of overlapping calls starts one more environment
        assert at_once(*(lambda: target.complete_mfa("warm-up", "000000").status,) * width) == [401] * width
    return at_once(*(lambda pair=pair: target.complete_mfa(*pair) for pair in pairs))


def test_one_totp_code_sent_at_once_with_four_mfa_tokens_signs_in_once(
    guarded: Target, mfa_user: MfaUser
) -> None:
    tokens = [guarded.mfa_token(mfa_user) for _ in range(4)]
    code = mfa_user.authenticator.code()
    replies = mfa_attempts(guarded, [(token, code) for token in tokens])
    assert statuses(replies) == [200, 401, 401, 401], [reply.text for reply in replies]
    assert all(reply.json == {"message": "Invalid code"} for reply in replies if reply.status == 401)
    # The tokens whose code was refused are unspent: a later code completes one of them.
    (loser, *_) = [token for token, reply in zip(tokens, replies, strict=True) if reply.status == 401]
    assert guarded.complete_mfa(loser, mfa_user.authenticator.code()).status == 200


def test_one_recovery_code_sent_at_once_with_four_mfa_tokens_signs_in_once(
    guarded: Target, mfa_user: MfaUser
) -> None:
    tokens = [guarded.mfa_token(mfa_user) for _ in range(4)]
    code = mfa_user.recovery_codes[0]
    replies = mfa_attempts(guarded, [(token, code) for token in tokens])
    assert statuses(replies) == [200, 401, 401, 401], [reply.text for reply in replies]
    assert guarded.complete_mfa(guarded.mfa_token(mfa_user), code).status == 401


def test_one_mfa_token_sent_at_once_with_four_good_codes_signs_in_once(
    guarded: Target, mfa_user: MfaUser
) -> None:
    token = guarded.mfa_token(mfa_user)
    codes = [mfa_user.authenticator.code(), *mfa_user.recovery_codes[:3]]
    replies = mfa_attempts(guarded, [(token, code) for code in codes])
    assert statuses(replies) == [200, 401, 401, 401], [reply.text for reply in replies]
    assert all(
        reply.json == {"message": "Invalid or expired MFA token"} for reply in replies if reply.status == 401
    )
    # The codes that came with the token a second time are unspent.
    unspent = [code for code, reply in zip(codes, replies, strict=True) if reply.status == 401]
    recovery = next(code for code in unspent if code in mfa_user.recovery_codes)
    assert guarded.complete_mfa(guarded.mfa_token(mfa_user), recovery).status == 200


def test_twelve_simultaneous_wrong_codes_get_five_401s_and_the_rest_429(
    guarded: Target, mfa_user: MfaUser
) -> None:
    tokens = [guarded.mfa_token(mfa_user) for _ in range(3)]
    wrong = [*mfa_user.authenticator.wrong_codes(8), "AAAA-BBBB-CCCC-DDDD", "EEEEFFFFGGGGHHHH"]
    wrong += ["2222-3333-4444-5555", "abcd-efgh-ijkl-mnop"]
    replies = mfa_attempts(guarded, [(tokens[n % 3], code) for n, code in enumerate(wrong)])
    assert statuses(replies) == [401] * THRESHOLD + [429] * (12 - THRESHOLD)
    assert all(int(reply.header("retry-after")) >= 1 for reply in replies if reply.status == 429)
    # Locked: even the right code is not checked now, with any token.
    right = guarded.complete_mfa(tokens[0], mfa_user.recovery_codes[0])
    assert right.status == 429
    assert guarded.complete_mfa(guarded.mfa_token(mfa_user), mfa_user.recovery_codes[0]).status == 429


# --- the last enabled admin ---------------------------------------------------------------------


@pytest.mark.local_only
@pytest.mark.parametrize("count", [2, 4])
def test_enabled_admins_demoting_each_other_at_once_leave_exactly_one(
    admins_target: Target, count: int
) -> None:
    """Each of ``count`` admins, the only enabled ones, demotes the next (the last the first), all
    at once: every demotion but one goes through, and one enabled admin remains."""
    target, client = admins_target, admins_target.client
    admins = [target.make_admin() for _ in range(count)]
    target.leave_enabled_admins(*admins)
    ids = [target.profile(admin)["id"] for admin in admins]
    replies = at_once(
        *(
            lambda admin=admin, victim=ids[(n + 1) % count]: client.request(
                "PATCH", f"/users/{victim}", token=admin.access_token, body={"roles": ["reader"]}
            )
            for n, admin in enumerate(admins)
        )
    )
    assert statuses(replies) == [200] * (count - 1) + [409], [reply.text for reply in replies]
    assert all(reply.json == LAST_ADMIN for reply in replies if reply.status == 409)
    (kept,) = [ids[(n + 1) % count] for n, reply in enumerate(replies) if reply.status == 409]
    survivor = admins[ids.index(kept)]
    assert target.enabled_admins(survivor) == {survivor.username}


@pytest.mark.local_only
def test_enabled_admins_disabling_and_deleting_each_other_at_once_leave_exactly_one(
    admins_target: Target,
) -> None:
    target, client = admins_target, admins_target.client
    admins = [target.make_admin() for _ in range(3)]
    target.leave_enabled_admins(*admins)
    ids = [target.profile(admin)["id"] for admin in admins]
    disable, *deletes = at_once(
        lambda: client.request(
            "PATCH", f"/users/{ids[1]}", token=admins[0].access_token, body={"disabled": True}
        ),
        lambda: client.request("DELETE", f"/users/{ids[2]}", token=admins[1].access_token),
        lambda: client.request("DELETE", f"/users/{ids[0]}", token=admins[2].access_token),
    )
    outcomes = [(disable.status, 200), *((reply.status, 204) for reply in deletes)]
    assert sorted(status == done for status, done in outcomes) == [False, True, True], outcomes
    refused = next(n for n, (status, done) in enumerate(outcomes) if status != done)
    assert [disable, *deletes][refused].json == LAST_ADMIN
    survivor = admins[(refused + 1) % 3]  # whom the refused request was aimed at
    assert target.enabled_admins(survivor) == {survivor.username}
