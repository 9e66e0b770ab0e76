"""The operator CLI against moto: through a local server's state file, and through a stack's Outputs.

The CLI and the account code are imported inside the tests, never at collection: importing them
creates the Powertools Metrics singleton, which reads its namespace from the environment once,
and the test environment is only set up per test (conftest).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import jwt
import pyotp
import pytest

from admin_cli import ACCOUNTS_FUNCTION, USERS_FUNCTION
from books_api.errors import Unauthorized
from stack.template import Stack, template
from tests.threads import race
from tests.utils import NEW_PASSWORD, PASSWORD

from .conftest import REGION, TEST_BCRYPT_COST

PROFILE_FIELDS = {"id", "username", "roles", "created_at", "disabled", "mfa_enabled"}
LAST_ADMIN = "error: This would leave no enabled admin\n"


@pytest.fixture
def environment(stack: Stack) -> dict[str, str]:
    return {**stack.environment(ACCOUNTS_FUNCTION), "BCRYPT_COST": TEST_BCRYPT_COST}


@pytest.fixture
def state_file(
    stack: Stack, environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):  # restored after the test: the CLI sets them
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "server.json"
    functions = {
        ACCOUNTS_FUNCTION: {"environment": environment},
        USERS_FUNCTION: {"environment": stack.environment(USERS_FUNCTION)},
    }
    path.write_text(json.dumps({"functions": functions}))
    return path


def run(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: Any = None, password: str = PASSWORD
) -> tuple[int, Any, str]:
    """The CLI's exit status, what it printed (parsed when it succeeded) and its stderr; whatever
    the command, nothing printed holds a password, a hash or a factor's secret."""
    from admin_cli import cli

    status = cli.main(list(args), stdin=stdin or io.StringIO(password + "\n"))
    out, err = capsys.readouterr()
    for secret in (PASSWORD, NEW_PASSWORD, "$2b$", "password_hash", "totp", "recovery"):
        assert secret not in out + err
    return status, json.loads(out) if status == 0 else out, err


def accounts(environment: dict[str, str]) -> Any:
    from books_api.accounts import Accounts
    from books_api.config import AccountSettings

    return Accounts.from_settings(AccountSettings.from_env(environment))


def login(environment: dict[str, str], username: str, password: str = PASSWORD) -> dict[str, Any]:
    return accounts(environment).login(username, password)[1]


def refreshes(environment: dict[str, str], pair: dict[str, Any]) -> bool:
    """Whether ``pair``'s session still refreshes (the CLI ends sessions with a new generation)."""
    try:
        accounts(environment).refresh(pair["refresh_token"])
    except Unauthorized:
        return False
    return True


def create(capsys: pytest.CaptureFixture[str], state_file: Path, username: str, role: str = "reader") -> dict:
    status, user, err = run(capsys, "--state-file", str(state_file), "create-user", username, "--role", role)
    assert status == 0, err
    return user


def stored(stack: Stack, username: str) -> dict[str, Any] | None:
    from books_api.dal import from_attributes

    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=stack.ref("UsersTable"), Key={"username": {"S": username}}, ConsistentRead=True
    )
    return from_attributes(item["Item"]) if "Item" in item else None


def enabled_admins(stack: Stack) -> int:
    count = stored(stack, "#enabled-admins")
    assert count is not None
    return count["admins"]


def test_creates_the_first_admin(state_file: Path, environment: dict, capsys: pytest.CaptureFixture) -> None:
    status, user, err = run(capsys, "--state-file", str(state_file), "create-user", "Root", "--role", "admin")
    assert status == 0, err
    assert user["username"] == "root"
    assert user["roles"] == ["reader", "admin"]
    assert set(user) == PROFILE_FIELDS
    assert (user["disabled"], user["mfa_enabled"]) == (False, False)
    assert login(environment, "root", PASSWORD)["token_type"] == "Bearer"


def test_creates_a_reader_by_default(state_file: Path, capsys: pytest.CaptureFixture) -> None:
    status, user, _ = run(capsys, "--state-file", str(state_file), "create-user", "alice")
    assert status == 0
    assert user["roles"] == ["reader"]


def test_refuses_an_existing_user_unless_told_to_update(
    state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    run(capsys, "--state-file", str(state_file), "create-user", "alice")
    status, _, err = run(capsys, "--state-file", str(state_file), "create-user", "alice", "--role", "admin")
    assert status == 1
    assert "already exists" in err
    status, user, _ = run(
        capsys,
        "--state-file",
        str(state_file),
        "create-user",
        "alice",
        "--role",
        "admin",
        "--update",
        password=NEW_PASSWORD,
    )
    assert status == 0
    assert user["roles"] == ["reader", "admin"]
    assert login(environment, "alice", NEW_PASSWORD)
    with pytest.raises(Unauthorized):
        login(environment, "alice", PASSWORD)


def test_resets_a_password_and_keeps_the_roles(
    state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    run(capsys, "--state-file", str(state_file), "create-user", "root", "--role", "admin")
    status, user, _ = run(
        capsys, "--state-file", str(state_file), "reset-password", "ROOT", password=NEW_PASSWORD
    )
    assert status == 0
    assert user["roles"] == ["reader", "admin"]
    assert login(environment, "root", NEW_PASSWORD)
    with pytest.raises(Unauthorized):
        login(environment, "root", PASSWORD)


def test_reset_of_an_unknown_user_fails(state_file: Path, capsys: pytest.CaptureFixture) -> None:
    status, _, err = run(capsys, "--state-file", str(state_file), "reset-password", "nobody")
    assert status == 1
    assert "No user" in err


def test_a_weak_password_is_refused_without_echoing_it(
    state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    status, out, err = run(
        capsys, "--state-file", str(state_file), "create-user", "alice", password="hunter2"
    )
    assert status == 1
    assert "password: must be 8 to 128 characters long" in err
    assert "hunter2" not in out + err


def test_an_empty_stdin_is_no_password(state_file: Path, capsys: pytest.CaptureFixture) -> None:
    status, _, err = run(
        capsys, "--state-file", str(state_file), "create-user", "alice", stdin=io.StringIO("")
    )
    assert status == 1
    assert "No password" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompts_twice_on_a_terminal(
    state_file: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    status, _, err = run(capsys, "--state-file", str(state_file), "create-user", "alice", stdin=Terminal())
    assert status == 1
    assert "differ" in err
    answers = iter([PASSWORD, PASSWORD])
    status, user, _ = run(capsys, "--state-file", str(state_file), "create-user", "alice", stdin=Terminal())
    assert status == 0
    assert user["username"] == "alice"


def test_without_a_running_server_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    status, _, err = run(capsys, "--state-file", str(tmp_path / "none.json"), "create-user", "alice")
    assert status == 1
    assert "make run" in err


def test_the_password_is_not_an_option(capsys: pytest.CaptureFixture) -> None:
    from admin_cli import cli

    with pytest.raises(SystemExit):
        cli.main(["create-user", "alice", "--password", PASSWORD])
    err = capsys.readouterr().err
    assert "never from arguments" in err
    assert PASSWORD not in err


def deploy(stack: Stack, name: str, *, without: tuple[str, ...] = ()) -> None:
    """A CloudFormation stack in moto whose Outputs and Parameters are those of the real template:
    each output naming a resource made in moto (a ``!Ref`` of it, or its ``!GetAtt .Arn``), but
    those ``without``."""
    outputs = {}
    for output, spec in template()["Outputs"].items():
        value = spec["Value"] if output not in without else None
        if not isinstance(value, dict):
            continue
        if value.get("Ref") in stack.physical:
            outputs[output] = stack.physical[value["Ref"]]
        elif "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and logical_id in stack.arns:
                outputs[output] = stack.arns[logical_id]
    assert {"UsersTableName", "TokensTableName", "SigningSecretArn", "MfaKeyArn"} - set(without) <= set(
        outputs
    )
    body = {
        "Parameters": {"BcryptCost": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "BcryptCost", "ParameterValue": "10"}],
    )


def test_creates_a_user_in_a_deployed_stack(stack: Stack, capsys: pytest.CaptureFixture) -> None:
    deploy(stack, "books-prod")
    status, user, err = run(
        capsys, "--stack-name", "books-prod", "--region", REGION, "create-user", "root", "--role", "admin"
    )
    assert status == 0, err
    assert user["roles"] == ["reader", "admin"]
    stored = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=stack.physical["UsersTable"], Key={"username": {"S": "root"}}
    )["Item"]
    assert stored["password_hash"]["S"].startswith("$2b$10$")  # the stack's BcryptCost


def test_an_unknown_stack_is_a_one_line_error(stack: Stack, capsys: pytest.CaptureFixture) -> None:
    status, _, err = run(capsys, "--stack-name", "missing", "--region", REGION, "create-user", "root")
    assert status == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def signing_stages(stack: Stack) -> dict[str, list[str]]:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    return secrets.describe_secret(SecretId=stack.ref("SigningSecret"))["VersionIdsToStages"]


def current_version(stack: Stack) -> str:
    return next(version for version, labels in signing_stages(stack).items() if "AWSCURRENT" in labels)


def test_rotates_the_signing_key_and_keeps_the_previous_one(
    stack: Stack, state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    before = current_version(stack)
    status, rotated, err = run(capsys, "--state-file", str(state_file), "rotate-signing-key")
    assert status == 0, err
    assert rotated == {"secret": stack.ref("SigningSecret"), "version": current_version(stack)}
    assert signing_stages(stack)[before] == ["AWSPREVIOUS"]


def test_revoke_previous_rotates_and_leaves_no_previous_key(
    stack: Stack, state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    before = current_version(stack)
    status, rotated, err = run(
        capsys, "--state-file", str(state_file), "rotate-signing-key", "--revoke-previous"
    )
    assert status == 0, err
    assert rotated == {
        "secret": stack.ref("SigningSecret"),
        "version": current_version(stack),
        "revoked": before,
    }
    assert rotated["version"] != before
    assert not any("AWSPREVIOUS" in labels for labels in signing_stages(stack).values())


class Clock:
    """In place of the CLI's ``time``: ``sleep`` moves ``monotonic`` on, and counts."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1


def slow_rotation(monkeypatch: pytest.MonkeyPatch, polls: float) -> Clock:
    """The rotation on a stack seen as unfinished for the first ``polls`` looks, as Secrets Manager
    runs it asynchronously (moto finishes it at once)."""
    from admin_cli import cli
    from books_api.rotation import KeyRotation

    clock, finished, looks = Clock(), KeyRotation.finished, []

    def unfinished_at_first(self: KeyRotation, secret_id: str, version: str) -> bool:
        looks.append(version)
        return len(looks) > polls and finished(self, secret_id, version)

    monkeypatch.setattr(cli, "time", clock)
    monkeypatch.setattr(KeyRotation, "finished", unfinished_at_first)
    return clock


def test_on_a_stack_revoke_previous_waits_for_the_rotation_to_finish(
    stack: Stack, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(stack, "books-prod")
    before = current_version(stack)
    clock = slow_rotation(monkeypatch, polls=3)
    status, rotated, err = run(
        capsys, "--stack-name", "books-prod", "--region", REGION, "rotate-signing-key", "--revoke-previous"
    )
    assert status == 0, err
    assert clock.sleeps == 3
    assert rotated["revoked"] == before
    assert signing_stages(stack)[rotated["version"]] == ["AWSCURRENT"]
    assert not any("AWSPREVIOUS" in labels for labels in signing_stages(stack).values())


def test_on_a_stack_a_rotation_that_does_not_finish_revokes_nothing(
    stack: Stack, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin_cli import cli

    deploy(stack, "books-prod")
    clock = slow_rotation(monkeypatch, polls=float("inf"))
    status, _, err = run(
        capsys, "--stack-name", "books-prod", "--region", REGION, "rotate-signing-key", "--revoke-previous"
    )
    assert status == 1
    assert "did not finish" in err
    assert "was not revoked" in err
    assert clock.now == pytest.approx(cli.ROTATION_WAIT_SECONDS, abs=cli.ROTATION_POLL_SECONDS)
    assert any("AWSPREVIOUS" in labels for labels in signing_stages(stack).values())


def local(state_file: Path, *args: str) -> tuple[str, ...]:
    return ("--state-file", str(state_file), *args)


def test_lists_users_page_by_page_and_all_at_once(state_file: Path, capsys: pytest.CaptureFixture) -> None:
    made = {name: create(capsys, state_file, name) for name in ("carol", "alice", "bob")}
    status, listed, err = run(capsys, *local(state_file, "list-users"))
    assert status == 0, err
    assert listed == {"items": [made["alice"], made["bob"], made["carol"]], "next_token": None}
    status, first, _ = run(capsys, *local(state_file, "list-users", "--limit", "2"))
    assert status == 0
    assert [user["username"] for user in first["items"]] == ["alice", "bob"]
    status, rest, _ = run(
        capsys, *local(state_file, "list-users", "--limit", "2", "--next-token", first["next_token"])
    )
    assert status == 0
    assert rest == {"items": [made["carol"]], "next_token": None}
    status, after, _ = run(capsys, *local(state_file, "list-users", "--next-token", first["next_token"]))
    assert status == 0
    assert after == {"items": [made["carol"]], "next_token": None}


def test_lists_every_page_without_a_limit(
    state_file: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin_cli import cli

    names = [f"user{number}" for number in range(5)]
    for name in names:
        create(capsys, state_file, name)
    monkeypatch.setattr(cli, "PAGE_SIZE_MAX", 2)  # three pages of two at most
    status, listed, err = run(capsys, *local(state_file, "list-users"))
    assert status == 0, err
    assert [user["username"] for user in listed["items"]] == names
    assert listed["next_token"] is None


def test_list_users_refuses_a_next_token_it_did_not_issue(
    state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    status, _, err = run(capsys, *local(state_file, "list-users", "--next-token", "eyJ1IjoiYSJ9.AAAA"))
    assert status == 1
    assert err == "error: Invalid next_token\n  next_token: is not a token this API issued\n"
    with pytest.raises(SystemExit):
        run(capsys, *local(state_file, "list-users", "--limit", "101"))
    assert "must be an integer from 1 to 100" in capsys.readouterr().err


def test_disable_refuses_logins_and_ends_sessions_until_enabled(
    state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    create(capsys, state_file, "alice")
    pair = login(environment, "alice")
    status, user, err = run(capsys, *local(state_file, "disable-user", "Alice"))
    assert status == 0, err
    assert (user["username"], user["disabled"]) == ("alice", True)
    assert not refreshes(environment, pair)
    with pytest.raises(Unauthorized):
        login(environment, "alice")
    status, user, _ = run(capsys, *local(state_file, "enable-user", "alice"))
    assert status == 0
    assert user["disabled"] is False
    assert refreshes(environment, login(environment, "alice"))


def test_set_roles_promotes_and_demotes_and_ends_sessions(
    stack: Stack, state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    create(capsys, state_file, "root", "admin")
    create(capsys, state_file, "alice")
    pair = login(environment, "alice")
    status, user, err = run(capsys, *local(state_file, "set-roles", "alice", "--role", "admin"))
    assert status == 0, err
    assert user["roles"] == ["reader", "admin"]
    assert not refreshes(environment, pair)
    assert enabled_admins(stack) == 2
    status, user, _ = run(capsys, *local(state_file, "set-roles", "root", "--role", "reader"))
    assert status == 0
    assert user["roles"] == ["reader"]
    assert enabled_admins(stack) == 1
    status, _, err = run(capsys, *local(state_file, "set-roles", "alice", "--role", "reader"))
    assert (status, err) == (1, LAST_ADMIN)


def test_the_last_enabled_admin_is_not_demoted_disabled_or_deleted(
    stack: Stack, state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    root = create(capsys, state_file, "root", "admin")
    create(capsys, state_file, "carol", "admin")
    assert run(capsys, *local(state_file, "disable-user", "carol"))[0] == 0  # an admin, not enabled
    for command in (
        ("set-roles", "root", "--role", "reader"),
        ("disable-user", "root"),
        ("delete-user", "root", "--yes"),
    ):
        status, out, err = run(capsys, *local(state_file, *command))
        assert (status, out, err) == (1, "", LAST_ADMIN), command
    assert stored(stack, "root")["roles"] == root["roles"]
    assert stored(stack, "root")["disabled"] is False
    assert enabled_admins(stack) == 1
    assert login(environment, "root")["token_type"] == "Bearer"


def test_of_simultaneous_disables_of_every_admin_one_admin_remains(
    stack: Stack, state_file: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin_cli import cli

    admins = [f"admin{number}" for number in range(4)]
    for name in admins:
        create(capsys, state_file, name, "admin")
    # One directory for the racers (boto3 makes clients one thread at a time; its clients are thread-safe).
    directory = cli.user_directory(stack.environment(USERS_FUNCTION))
    monkeypatch.setattr(cli, "user_directory", lambda environment: directory)
    statuses = race(
        *(lambda name=name: cli.main(local(state_file, "disable-user", name)) for name in admins),
        together=True,
    )
    capsys.readouterr()
    assert sorted(statuses) == [0, 0, 0, 1]
    assert [name for name in admins if not stored(stack, name)["disabled"]] == [admins[statuses.index(1)]]
    assert enabled_admins(stack) == 1


def enable_totp(environment: dict[str, str], username: str) -> tuple[dict[str, Any], str]:
    """Turn ``username``'s TOTP factor on, as POST /users/me/mfa/totp and .../confirm do: the
    session it was confirmed in (which the confirmation keeps) and the secret."""
    store = accounts(environment)
    user, pair = store.login(username, PASSWORD)
    session_id = jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
    secret = store.start_totp(subject=user.id, username=user.username)["secret"]
    store.confirm_totp(
        subject=user.id, username=user.username, session_id=session_id, code=pyotp.TOTP(secret).now()
    )
    return pair, secret


def test_reset_mfa_lets_the_user_in_with_the_password_alone_and_ends_sessions(
    state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    create(capsys, state_file, "alice")
    pair, _ = enable_totp(environment, "alice")
    assert login(environment, "alice")["mfa_required"] is True
    assert refreshes(environment, pair)
    status, user, err = run(capsys, *local(state_file, "reset-mfa", "alice"))
    assert status == 0, err
    assert (user["username"], user["mfa_enabled"]) == ("alice", False)
    assert not refreshes(environment, pair)
    assert login(environment, "alice")["token_type"] == "Bearer"


def every_item(stack: Stack) -> str:
    """Every item of the users and tokens tables, as text."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return str(
        [dynamodb.scan(TableName=stack.ref(table))["Items"] for table in ("UsersTable", "TokensTable")]
    )


def test_delete_user_leaves_nothing_naming_the_user(
    stack: Stack, state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    from books_api.errors import CredentialsRefused

    create(capsys, state_file, "root", "admin")
    alice = create(capsys, state_file, "alice")
    login(environment, "alice")
    enable_totp(environment, "alice")
    challenge = login(environment, "alice")  # an MFA token, then a code refused: its lockout record
    with pytest.raises(CredentialsRefused):
        accounts(environment).complete_mfa(challenge["mfa_token"], "000000")
    with pytest.raises(Unauthorized):
        login(environment, "alice", NEW_PASSWORD)  # the username's lockout record
    assert alice["id"] in every_item(stack)
    assert "LOCK#alice" in every_item(stack)
    assert f"LOCK#mfa:{alice['id']}" in every_item(stack)
    status, deleted, err = run(capsys, *local(state_file, "delete-user", "alice", "--yes"))
    assert status == 0, err
    assert deleted == {"deleted": {**alice, "mfa_enabled": True}}
    assert alice["id"] not in every_item(stack)
    assert "alice" not in every_item(stack)
    assert create(capsys, state_file, "alice")["id"] != alice["id"]


def test_delete_user_without_yes_asks_at_a_terminal_and_refuses_elsewhere(
    stack: Stack, state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    create(capsys, state_file, "alice")
    status, _, err = run(capsys, *local(state_file, "delete-user", "alice"), stdin=io.StringIO("alice\n"))
    assert status == 1
    assert "add --yes" in err
    status, _, err = run(capsys, *local(state_file, "delete-user", "alice"), stdin=Terminal("bob\n"))
    assert status == 1
    assert "Type the username to confirm" in err
    assert "Not confirmed: nothing was deleted" in err
    assert stored(stack, "alice") is not None
    status, deleted, err = run(capsys, *local(state_file, "delete-user", "alice"), stdin=Terminal("Alice\n"))
    assert status == 0, err
    assert deleted["deleted"]["username"] == "alice"
    assert stored(stack, "alice") is None


@pytest.mark.parametrize(
    "command",
    [
        ("disable-user",),
        ("enable-user",),
        ("set-roles", "--role", "admin"),
        ("reset-mfa",),
        ("delete-user", "--yes"),
    ],
)
def test_an_unknown_user_is_a_clear_error(
    state_file: Path, capsys: pytest.CaptureFixture, command: tuple[str, ...]
) -> None:
    create(capsys, state_file, "alice")
    name, *options = command
    status, out, err = run(capsys, *local(state_file, name, "Nobody", *options))
    assert (status, out, err) == (1, "", "error: No user 'nobody'\n")


def put_old_user(stack: Stack, username: str, roles: list[str]) -> None:
    """A user as stacks before user administration wrote them: no ``directory``, ``disabled``,
    ``mfa_enabled`` (nor the count of enabled admins)."""
    import uuid

    from books_api.dal import to_attributes
    from books_api.passwords import hash_password

    item = {
        "username": username,
        "id": str(uuid.uuid4()),
        "roles": roles,
        "created_at": "2025-01-02T03:04:05Z",
        "password_hash": hash_password(PASSWORD, cost=int(TEST_BCRYPT_COST)),
        "session_generation": 0,
    }
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=stack.ref("UsersTable"), Item=to_attributes(item)
    )


OLD_USERS = {"olda": ["reader", "admin"], "oldb": ["reader", "admin"], "oldr": ["reader"]}
ADDED = ["directory", "disabled", "mfa_enabled"]


def test_migrate_users_lists_old_users_and_counts_the_enabled_admins_once(
    stack: Stack, state_file: Path, environment: dict, capsys: pytest.CaptureFixture
) -> None:
    create(capsys, state_file, "root", "admin")
    create(capsys, state_file, "carol", "admin")
    run(capsys, *local(state_file, "disable-user", "carol"))  # an admin, not enabled
    for username, roles in OLD_USERS.items():
        put_old_user(stack, username, roles)
    assert [user["username"] for user in run(capsys, *local(state_file, "list-users"))[1]["items"]] == [
        "carol",
        "root",
    ]
    status, report, err = run(capsys, *local(state_file, "migrate-users"))
    assert status == 0, err
    assert report == {
        "users_scanned": 5,
        "updated": dict.fromkeys(OLD_USERS, ADDED),
        "deleted_meanwhile": [],
        "enabled_admins": {"before": 1, "after": 3},
    }
    listed = run(capsys, *local(state_file, "list-users"))[1]["items"]
    assert [user["username"] for user in listed] == ["carol", "olda", "oldb", "oldr", "root"]
    assert all(set(user) == PROFILE_FIELDS for user in listed)
    assert [(user["disabled"], user["mfa_enabled"]) for user in listed if user["username"] in OLD_USERS] == [
        (False, False)
    ] * 3
    status, again, _ = run(capsys, *local(state_file, "migrate-users"))
    assert status == 0
    assert again == {
        "users_scanned": 5,
        "updated": {},
        "deleted_meanwhile": [],
        "enabled_admins": {"before": 3, "after": 3},
    }
    assert login(environment, "oldr")["token_type"] == "Bearer"
    assert run(capsys, *local(state_file, "disable-user", "olda"))[0] == 0
    assert run(capsys, *local(state_file, "delete-user", "oldb", "--yes"))[0] == 0
    assert run(capsys, *local(state_file, "disable-user", "root"))[2] == LAST_ADMIN


def during_the_scan(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """Run ``meanwhile`` once, right after the migration's Scan has read the table."""
    from books_api.users import UserRepository

    real, done = UserRepository.call, []

    def call(self: UserRepository, operation: str, **request: Any) -> dict[str, Any]:
        response = real(self, operation, **request)
        if operation == "scan" and not done:
            done.append(meanwhile())
        return response

    monkeypatch.setattr(UserRepository, "call", call)


def test_migrate_users_leaves_a_user_deleted_meanwhile_deleted(
    stack: Stack, state_file: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for username, roles in OLD_USERS.items():
        put_old_user(stack, username, roles)
    users = boto3.client("dynamodb", region_name=REGION)
    during_the_scan(
        monkeypatch,
        lambda: users.delete_item(TableName=stack.ref("UsersTable"), Key={"username": {"S": "oldr"}}),
    )
    status, report, err = run(capsys, *local(state_file, "migrate-users"))
    assert status == 0, err
    assert report["updated"] == {"olda": ADDED, "oldb": ADDED}
    assert report["deleted_meanwhile"] == ["oldr"]
    assert stored(stack, "oldr") is None
    assert enabled_admins(stack) == 2


def test_migrate_users_overwrites_no_count_changed_meanwhile(
    stack: Stack,
    state_file: Path,
    environment: dict,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put_old_user(stack, "olda", ["reader", "admin"])
    # An admin made by the API once the Scan has read the table: counted, but not seen by the Scan.
    during_the_scan(
        monkeypatch, lambda: accounts(environment).set_user("aaron", PASSWORD, ("reader", "admin"))
    )
    status, _, err = run(capsys, *local(state_file, "migrate-users"))
    assert status == 1
    assert err == "error: The enabled admins changed during the migration: run migrate-users again\n"
    assert enabled_admins(stack) == 1
    status, report, err = run(capsys, *local(state_file, "migrate-users"))
    assert status == 0, err
    assert report["enabled_admins"] == {"before": 1, "after": 2}


def test_administers_users_of_a_deployed_stack(stack: Stack, capsys: pytest.CaptureFixture) -> None:
    deploy(stack, "books-prod")
    where = ("--stack-name", "books-prod", "--region", REGION)
    assert run(capsys, *where, "create-user", "root", "--role", "admin")[0] == 0
    assert run(capsys, *where, "create-user", "alice")[0] == 0
    status, listed, err = run(capsys, *where, "list-users", "--limit", "1")
    assert status == 0, err
    assert [user["username"] for user in listed["items"]] == ["alice"]
    assert listed["next_token"]
    status, user, err = run(capsys, *where, "disable-user", "alice")
    assert status == 0, err
    assert user["disabled"] is True


def test_a_stack_without_an_output_the_users_function_needs_says_so(
    stack: Stack, capsys: pytest.CaptureFixture
) -> None:
    deploy(stack, "books-prod", without=("PageTokenSecretArn",))
    status, _, err = run(capsys, "--stack-name", "books-prod", "--region", REGION, "list-users")
    assert status == 1
    assert err.startswith("error: Stack books-prod lacks an output this needs")
    assert "PageTokenSecret" in err


def test_a_local_server_without_the_users_function_says_to_restart_it(
    state_file: Path, capsys: pytest.CaptureFixture
) -> None:
    state = json.loads(state_file.read_text())
    del state["functions"][USERS_FUNCTION]
    state_file.write_text(json.dumps(state))
    status, _, err = run(capsys, *local(state_file, "list-users"))
    assert status == 1
    assert "runs no UsersFunction: restart it with `make run`" in err
