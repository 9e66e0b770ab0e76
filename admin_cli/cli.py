"""python -m admin_cli: create a user with a role (the first admin), reset a password; list,
disable, enable, re-role or delete users and reset their multi-factor sign-in; migrate the users
of a stack deployed before user administration; rotate the signing key (with
``--revoke-previous``, the emergency rotation after the key leaked).

The store is the running local server's (the state file it writes, ``.local/server-<port>.json``,
described in docs/LOCAL.md) or a deployed stack's (``--stack-name``: table names from the stack's
Outputs, settings from its Parameters, credentials and region from the usual AWS configuration).
Each command runs the domain code with the settings of the function that does the same for the
API: users are made and their passwords set as the accounts function does, and administered as
the users function does for admins, under the same rules (the last enabled admin stays; a change
ends the user's sessions). The password is read from stdin, or asked for twice when stdin is a
terminal; never from the command line. Nothing printed holds a password, hash or secret.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from admin_cli import ACCOUNTS_FUNCTION, DEFAULT_PORT, USERS_FUNCTION, default_state_file
from admin_cli.migration import migrate_users
from books_api import aws
from books_api.accounts import Accounts
from books_api.config import AccountSettings, DirectorySettings
from books_api.directory import UserDirectory
from books_api.errors import ApiError, ConfigError
from books_api.limits import PAGE_SIZE_MAX, PAGE_SIZE_MIN
from books_api.permissions import ADMIN, READER
from books_api.rotation import KeyRotation
from books_api.users import normalize_username
from stack.template import Stack

ROLES = {"reader": (READER,), "admin": (READER, ADMIN)}
# The commands that take a password, and those that administer users (the users function's).
PASSWORD_COMMANDS = ("create-user", "reset-password")
USER_COMMANDS = ("list-users", "disable-user", "enable-user", "set-roles", "reset-mfa", "delete-user")
# What boto3 needs to reach the local server's moto as its functions do.
_LOCAL_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


# A rotation on a stack is Secrets Manager invoking the rotation function four times, each within
# its 30 s timeout: one still unfinished after this long has failed.
ROTATION_WAIT_SECONDS = 300
ROTATION_POLL_SECONDS = 2


class Failure(Exception):
    """An error to report in one line (exit status 1)."""


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise Failure("The two passwords differ")
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise Failure("No password given (type it at the prompt, or send it on stdin)")
    return password


def local_environment(state_file: Path, function: str = ACCOUNTS_FUNCTION) -> dict[str, str]:
    """``function``'s environment in the local server, and boto3 pointed at its moto."""
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise Failure(f"No local server state at {state_file}: start the server with `make run`") from None
    try:
        environment: dict[str, str] = state["functions"][function]["environment"]
    except KeyError:
        raise Failure(
            f"The local server of {state_file} runs no {function}: restart it with `make run`"
        ) from None
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update({name: environment[name] for name in _LOCAL_AWS_VARIABLES if name in environment})
    return environment


def stack_environment(
    stack_name: str, region: str | None, function: str = ACCOUNTS_FUNCTION
) -> dict[str, str]:
    """``function``'s environment in a deployed stack, from its Outputs and Parameters."""
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    cloudformation = boto3.client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    parameters = {
        parameter["ParameterKey"]: parameter.get("ResolvedValue", parameter["ParameterValue"])
        for parameter in stack.get("Parameters", [])
    }
    deployed = Stack.from_outputs(stack_name, cloudformation.meta.region_name, outputs, parameters)
    try:
        return deployed.environment(function)
    except KeyError as missing:
        raise Failure(f"Stack {stack_name} lacks an output this needs: {missing}") from None


def accounts(environment: Mapping[str, str]) -> Accounts:
    aws.client.cache_clear()
    return Accounts.from_settings(AccountSettings.from_env(environment))


def create_user(store: Accounts, username: str, password: str, role: str, *, update: bool) -> dict[str, Any]:
    existing = store.users.get(normalize_username(username))
    if existing is not None and not update:
        raise Failure(f"User {existing.username} already exists (use reset-password, or --update)")
    return store.set_user(username, password, ROLES[role]).public()


def reset_password(store: Accounts, username: str, password: str) -> dict[str, Any]:
    existing = store.users.get(normalize_username(username))
    if existing is None:
        raise Failure(f"No user {username!r}")
    return store.set_user(username, password, existing.roles).public()


def user_directory(environment: Mapping[str, str]) -> UserDirectory:
    aws.client.cache_clear()
    return UserDirectory.from_settings(DirectorySettings.from_env(environment))


def list_users(directory: UserDirectory, *, limit: int | None, next_token: str | None) -> dict[str, Any]:
    """One page of ``limit`` users (after ``next_token``'s page), as GET /users answers; without
    ``limit``, every user from there on, read page by page, and no ``next_token``."""
    if limit is not None:
        page = directory.page(limit=limit, next_token=next_token)
        return {"items": page.items, "next_token": page.next_token}
    items: list[dict[str, Any]] = []
    while True:
        page = directory.page(limit=PAGE_SIZE_MAX, next_token=next_token)
        items += page.items
        if page.next_token is None:
            return {"items": items, "next_token": None}
        next_token = page.next_token


def change_user(
    directory: UserDirectory, username: str, *, role: str | None = None, disabled: bool | None = None
) -> dict[str, Any]:
    """Give ``username`` this role and this disabled state (None: as they are): if either
    changes, the domain ends their sessions; it refuses (409) to leave no enabled admin."""
    user = directory.by_name(normalize_username(username))
    roles = ROLES[role] if role is not None else None
    return directory.update(user, roles=roles, disabled=disabled).public()


def reset_mfa(directory: UserDirectory, username: str) -> dict[str, Any]:
    """Turn ``username``'s multi-factor sign-in off: their sessions end, the password alone logs in."""
    return directory.reset_mfa(directory.by_name(normalize_username(username))).public()


def confirm_deletion(username: str, stdin: TextIO) -> None:
    """A deletion is for good: without ``--yes``, the operator types the username at a terminal."""
    if not stdin.isatty():
        raise Failure("delete-user erases the user for good: add --yes (stdin is no terminal to confirm at)")
    print(
        f"This deletes {username} and everything of theirs for good. Type the username to confirm: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    if stdin.readline().strip().casefold() != username:
        raise Failure("Not confirmed: nothing was deleted")


def delete_user(directory: UserDirectory, username: str, stdin: TextIO, *, yes: bool) -> dict[str, Any]:
    """Erase ``username`` as DELETE /users/{id} does: their item, sessions and lockout records."""
    user = directory.by_name(normalize_username(username))
    if not yes:
        confirm_deletion(user.username, stdin)
    directory.delete(user)
    return {"deleted": user.public()}


def _page_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not PAGE_SIZE_MIN <= size <= PAGE_SIZE_MAX:
        raise argparse.ArgumentTypeError(f"must be an integer from {PAGE_SIZE_MIN} to {PAGE_SIZE_MAX}")
    return size


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Never echo what was not understood: it may be a password typed on the command line.
        if message.startswith("unrecognized arguments"):
            message = (
                "unrecognized arguments (a password is read from stdin or a prompt, never from arguments)"
            )
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m admin_cli",
        description=(
            "Create a user with a role (the first admin), reset a password; list, disable, enable, "
            "re-role or delete users, reset their multi-factor sign-in (users are named by username); "
            "migrate the users of a stack deployed before user administration; rotate the signing key "
            "(after a leak: rotate-signing-key --revoke-previous)."
        ),
        epilog=(
            "Each command prints one JSON document (a user, a page of users, a rotation, a migration's "
            "changes), or one 'error:' line and exits with status 1. A password is read from stdin, or "
            "asked for when stdin is a terminal. The last enabled admin cannot be demoted, disabled "
            "or deleted."
        ),
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help="the local server on this port, or moto started alone on it (default $PORT or 3000)",
    )
    target.add_argument("--state-file", type=Path, help="the local server that wrote this state file")
    target.add_argument("--stack-name", help="a deployed stack (its Outputs name the tables)")
    parser.add_argument("--region", help="the deployed stack's region (default: the AWS configuration's)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create a user with a role")
    create.add_argument("username")
    create.add_argument(
        "--role", choices=sorted(ROLES), default="reader", help="admin also reads (default reader)"
    )
    create.add_argument(
        "--update", action="store_true", help="if the user exists, give it this password and role instead"
    )
    reset = commands.add_parser("reset-password", help="set a user's password (its sessions end)")
    reset.add_argument("username")
    listing = commands.add_parser(
        "list-users",
        help="list users in username order, as one JSON document",
        description=(
            'Print one JSON document, as GET /users answers: {"items": [users], "next_token": ...}. '
            "With --limit, one page of that many users, and the next_token that continues (null "
            "on the last page); without, every user (from --next-token on, if given), read page "
            "by page, and a null next_token."
        ),
    )
    listing.add_argument(
        "--limit", type=_page_size, help=f"one page of this many users ({PAGE_SIZE_MIN} to {PAGE_SIZE_MAX})"
    )
    listing.add_argument("--next-token", help="start after the page that printed this next_token")
    for name, what in (
        ("disable-user", "disable a user: no login or refresh until enabled again (their sessions end)"),
        ("enable-user", "enable a disabled user again (their sessions end)"),
        ("reset-mfa", "turn a user's multi-factor sign-in off (a lost authenticator; their sessions end)"),
    ):
        commands.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".").add_argument(
            "username"
        )
    roles = commands.add_parser("set-roles", help="give a user a role (their sessions end)")
    roles.add_argument("username")
    roles.add_argument("--role", choices=sorted(ROLES), required=True, help="admin also reads")
    delete = commands.add_parser(
        "delete-user",
        help="erase a user: their account, sessions and lockout records (needs --yes)",
        description=(
            "Erase a user, as DELETE /users/{id} does: the account, every session and token, the "
            "lockout records; the username is free again. No password is asked for. Without --yes, "
            "the username is asked for again at a terminal, and it refuses when stdin is not one."
        ),
    )
    delete.add_argument("username")
    delete.add_argument("--yes", action="store_true", help="delete without asking to confirm")
    commands.add_parser(
        "migrate-users",
        help="bring the users of a stack deployed before user administration to the new shape",
        description=(
            "For a stack deployed before user administration: one Scan of the users table adds "
            "directory, disabled=false and mfa_enabled=false to each user lacking them (so the user "
            "is listed), then sets the count of enabled admins. Changes nothing when run again. "
            "Prints what it changed."
        ),
    )
    rotate = commands.add_parser(
        "rotate-signing-key",
        help="rotate the signing key now (tokens signed before stay valid until they expire)",
        description=(
            "Rotate the signing key now. Each function signs with the new key once its key cache "
            "expires; the previous key keeps verifying what it signed until then, for those tokens' "
            "lifetime, and nothing it signs later. See docs/SECURITY.md, 'The signing key leaked'."
        ),
    )
    rotate.add_argument(
        "--revoke-previous",
        action="store_true",
        help=(
            "after a leak: once the rotation is done, stop the previous key verifying anything. Every "
            "access token signed before is refused (clients refresh or sign in again) within the key "
            "cache time, at once where a function sees a token of the new key; on a stack this waits "
            f"for the rotation, up to {ROTATION_WAIT_SECONDS} s"
        ),
    )
    return parser


def _wait_for_rotation(rotation: KeyRotation, secret: str, version: str) -> None:
    """Until Secrets Manager has finished the rotation to ``version`` (it runs asynchronously)."""
    deadline = time.monotonic() + ROTATION_WAIT_SECONDS
    while not rotation.finished(secret, version):
        if time.monotonic() >= deadline:
            raise Failure(
                f"The rotation to version {version} did not finish within {ROTATION_WAIT_SECONDS} s, so "
                "the previous key was not revoked: see the rotation function's logs, then run this again"
            )
        time.sleep(ROTATION_POLL_SECONDS)


def rotate_signing_key(
    environment: Mapping[str, str], *, local: bool, revoke_previous: bool = False
) -> dict[str, Any]:
    """On a stack, ask Secrets Manager to rotate (it runs the rotation function); locally, where
    nothing drives a rotation, run the rotation function's four steps in order. With
    ``revoke_previous``, then take AWSPREVIOUS off the version that had been current."""
    aws.client.cache_clear()
    secret = environment["SIGNING_SECRET_ARN"]
    rotation = KeyRotation(aws.client("secretsmanager"))
    if local:
        version = rotation.rotate_now(secret)
    else:
        version = rotation.client.rotate_secret(SecretId=secret, RotateImmediately=True)["VersionId"]
    if not revoke_previous:
        return {"secret": secret, "version": version}
    if not local:
        _wait_for_rotation(rotation, secret, version)
    return {"secret": secret, "version": version, "revoked": rotation.revoke_previous(secret)}


def _administer(args: argparse.Namespace, directory: UserDirectory, stdin: TextIO) -> dict[str, Any]:
    if args.command == "list-users":
        return list_users(directory, limit=args.limit, next_token=args.next_token)
    if args.command == "delete-user":
        return delete_user(directory, args.username, stdin, yes=args.yes)
    if args.command == "reset-mfa":
        return reset_mfa(directory, args.username)
    if args.command == "set-roles":
        return change_user(directory, args.username, role=args.role)
    return change_user(directory, args.username, disabled=args.command == "disable-user")


def _run(args: argparse.Namespace, environment: Mapping[str, str], stdin: TextIO, *, local: bool) -> Any:
    """What ``args.command`` does, in the store ``environment`` describes: what to print."""
    if args.command == "rotate-signing-key":
        return rotate_signing_key(environment, local=local, revoke_previous=args.revoke_previous)
    if args.command == "migrate-users":
        return migrate_users(user_directory(environment).users).report()
    if args.command in USER_COMMANDS:
        return _administer(args, user_directory(environment), stdin)
    store = accounts(environment)
    password = read_password(stdin)
    if args.command == "create-user":
        return create_user(store, args.username, password, args.role, update=args.update)
    return reset_password(store, args.username, password)


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    # Each command runs with the environment of the function that does the same for the API.
    accounts_work = args.command in (*PASSWORD_COMMANDS, "rotate-signing-key")
    function = ACCOUNTS_FUNCTION if accounts_work else USERS_FUNCTION
    try:
        if args.stack_name:
            environment = stack_environment(args.stack_name, args.region, function)
        else:
            environment = local_environment(args.state_file or default_state_file(args.port), function)
        printed = _run(args, environment, stdin or sys.stdin, local=not args.stack_name)
    except ApiError as error:
        details = "".join(f"\n  {item['field']}: {item['message']}" for item in error.errors)
        print(f"error: {error.message}{details}", file=sys.stderr)
        return 1
    except (Failure, ConfigError, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(printed))
    return 0
