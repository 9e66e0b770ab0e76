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
import pytest

from admin_cli import ACCOUNTS_FUNCTION
from books_api.errors import Unauthorized
from stack.template import Stack
from tests.utils import NEW_PASSWORD, PASSWORD

from .conftest import REGION, TEST_BCRYPT_COST


@pytest.fixture
def environment(stack: Stack) -> dict[str, str]:
    return {**stack.environment(ACCOUNTS_FUNCTION), "BCRYPT_COST": TEST_BCRYPT_COST}


@pytest.fixture
def state_file(environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):  # restored after the test: the CLI sets them
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"functions": {ACCOUNTS_FUNCTION: {"environment": environment}}}))
    return path


def run(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: Any = None, password: str = PASSWORD
) -> tuple[int, Any, str]:
    from admin_cli import cli

    status = cli.main(list(args), stdin=stdin or io.StringIO(password + "\n"))
    out, err = capsys.readouterr()
    return status, json.loads(out) if status == 0 else out, err


def login(environment: dict[str, str], username: str, password: str) -> dict[str, Any]:
    from books_api.accounts import Accounts
    from books_api.config import AccountSettings

    return Accounts.from_settings(AccountSettings.from_env(environment)).login(username, password)[1]


def test_creates_the_first_admin(state_file: Path, environment: dict, capsys: pytest.CaptureFixture) -> None:
    status, user, err = run(capsys, "--state-file", str(state_file), "create-user", "Root", "--role", "admin")
    assert status == 0, err
    assert user["username"] == "root"
    assert user["roles"] == ["reader", "admin"]
    assert set(user) == {"id", "username", "roles", "created_at"}
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


def deploy(stack: Stack, name: str) -> None:
    """A CloudFormation stack in moto whose Outputs and Parameters are those of the real template."""
    outputs = {
        "UsersTableName": stack.physical["UsersTable"],
        "BooksTableName": stack.physical["BooksTable"],
        "TokensTableName": stack.physical["TokensTable"],
        "SigningSecretArn": stack.physical["SigningSecret"],
        "PageTokenSecretArn": stack.physical["PageTokenSecret"],
    }
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
