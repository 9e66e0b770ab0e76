"""python -m admin_cli: create a user with a role (the first admin), reset a password, or rotate
the signing key (with ``--revoke-previous``, the emergency rotation after the key leaked).

The store is the running local server's (the state file it writes, ``.local/server-<port>.json``,
described in docs/LOCAL.md) or a deployed stack's (``--stack-name``: table names from the stack's
Outputs, settings from its Parameters, credentials and region from the usual AWS configuration).
Users are made by the domain code with the settings of the function that makes them. The
password is read from stdin, or asked for twice when stdin is a terminal; never from the command line.
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
from typing import NoReturn, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from admin_cli import ACCOUNTS_FUNCTION, DEFAULT_PORT, default_state_file
from books_api import aws
from books_api.accounts import Accounts
from books_api.config import AccountSettings
from books_api.errors import ApiError, ConfigError
from books_api.rotation import KeyRotation
from books_api.users import ADMIN, READER, normalize_username
from stack.template import Stack

ROLES = {"reader": (READER,), "admin": (READER, ADMIN)}
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


def local_environment(state_file: Path) -> dict[str, str]:
    """The accounts function's environment in the local server, and boto3 pointed at its moto."""
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise Failure(f"No local server state at {state_file}: start the server with `make run`") from None
    environment = state["functions"][ACCOUNTS_FUNCTION]["environment"]
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update({name: environment[name] for name in _LOCAL_AWS_VARIABLES if name in environment})
    return environment


def stack_environment(stack_name: str, region: str | None) -> dict[str, str]:
    """The accounts function's environment in a deployed stack, from its Outputs and Parameters."""
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
        return deployed.environment(ACCOUNTS_FUNCTION)
    except KeyError as missing:
        raise Failure(f"Stack {stack_name} lacks an output this needs: {missing}") from None


def accounts(environment: Mapping[str, str]) -> Accounts:
    aws.client.cache_clear()
    return Accounts.from_settings(AccountSettings.from_env(environment))


def create_user(store: Accounts, username: str, password: str, role: str, *, update: bool) -> dict:
    existing = store.users.get(normalize_username(username))
    if existing is not None and not update:
        raise Failure(f"User {existing.username} already exists (use reset-password, or --update)")
    return store.set_user(username, password, ROLES[role]).public()


def reset_password(store: Accounts, username: str, password: str) -> dict:
    existing = store.users.get(normalize_username(username))
    if existing is None:
        raise Failure(f"No user {username!r}")
    return store.set_user(username, password, existing.roles).public()


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
            "Create a user with a role (the first admin), reset a password, rotate the signing key "
            "(after a leak: rotate-signing-key --revoke-previous)."
        ),
        epilog="The password is read from stdin, or asked for when stdin is a terminal.",
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


def rotate_signing_key(environment: Mapping[str, str], *, local: bool, revoke_previous: bool = False) -> dict:
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


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.stack_name:
            environment = stack_environment(args.stack_name, args.region)
        else:
            environment = local_environment(args.state_file or default_state_file(args.port))
        if args.command == "rotate-signing-key":
            rotated = rotate_signing_key(
                environment, local=not args.stack_name, revoke_previous=args.revoke_previous
            )
            print(json.dumps(rotated))
            return 0
        store = accounts(environment)
        password = read_password(stdin or sys.stdin)
        if args.command == "create-user":
            user = create_user(store, args.username, password, args.role, update=args.update)
        else:
            user = reset_password(store, args.username, password)
    except ApiError as error:
        details = "".join(f"\n  {item['field']}: {item['message']}" for item in error.errors)
        print(f"error: {error.message}{details}", file=sys.stderr)
        return 1
    except (Failure, ConfigError, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(user))
    return 0
