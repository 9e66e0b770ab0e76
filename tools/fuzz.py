"""Fuzz the running API with schemathesis: docs/openapi.json against a local server on 127.0.0.1.

    .venv/bin/python -m tools.fuzz --schemathesis .venv-fuzz/bin/schemathesis     (make fuzz)

Starts the local server on free ports (bcrypt's cost lowered, as in the tests), creates an admin
with the operator CLI, logs it in, creates two books and reads a page of them, signs up a reader
(the user /users/{id} aims at) and one with TOTP on (for POST /auth/mfa), and reads a page of
users (for a next_token of each list the server signed); runs schemathesis with tools/fuzz.toml
and the generators and hooks of tools/fuzz_hooks.py (the admin's token on every Bearer route, the
book's and the reader's ids among the generated ones, that user's working codes among the
generated MFA codes and a live MFA token of theirs in half the POST /auth/mfa bodies); then reads
the gateway's access log: every request it answered and with what status. Stops the server.

Fails if schemathesis fails (any check: a 5xx, or a 400 for data the document calls valid), if
its report has a warning of FAILING_WARNINGS (a schema mismatch among them), if the server
answered any request with a 5xx, if fewer than MIN_TEST_CASES test cases ran (a run that tests
nothing must not pass), or if an operation of the document was not tested.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools import fuzz_formats

if TYPE_CHECKING:
    from local_api.process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tools" / "fuzz.toml"
DOCUMENT = ROOT / "docs" / "openapi.json"
ENV_VARS = {"Parameters": {"BCRYPT_COST": "4"}}
MIN_TEST_CASES = 300
RECOVERY_CODES_GIVEN = 3  # of the MFA user's ten: the rest stay unused, as a user's would
# Warnings that mean the document and the API disagree, or that the fuzzing could not follow it:
# most schema-valid data refused (the schema promises more than the API accepts), or a pattern
# schemathesis cannot generate from. tools/fuzz.toml makes schemathesis fail on them too.
FAILING_WARNINGS = ("validation_mismatch", "unsupported_regex")
ADMIN_CLI = (sys.executable, "-m", "admin_cli")
# The gateway's access line (local_api.gateway): METHOD PATH STATUS ELAPSED ms
ACCESS_LINE = re.compile(r" INFO [A-Z]+ .* (\d{3}) \d+\.\d ms$")


class FuzzFailed(Exception):
    pass


def _call(
    url: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    """POST ``body`` to ``path`` (GET it without a body, unless told another method), and the JSON
    it answers."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if not url.startswith("http://127.0.0.1:"):
        raise FuzzFailed(f"not the local server: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - checked above  # nosec B310
        return json.loads(response.read())


def _admin_token(server: ServerProcess) -> str:
    username, password = f"fuzz-{uuid.uuid4().hex[:12]}", f"pw {uuid.uuid4().hex}"
    done = subprocess.run(  # noqa: S603 - our interpreter and module, the password on stdin
        [*ADMIN_CLI, "--state-file", str(server.state_file), "create-user", username, "--role", "admin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise FuzzFailed(f"could not create the admin: {done.stderr}")
    return _call(server.url, "/auth/login", {"username": username, "password": password})["access_token"]


def _password() -> str:
    return f"pw {uuid.uuid4().hex}"


def _mfa_user(url: str) -> dict[str, str]:
    """A reader with TOTP on: its username, password, secret and some of its recovery codes."""
    username, password = f"fuzz-mfa-{uuid.uuid4().hex[:12]}", _password()
    token = _call(url, "/auth/signup", {"username": username, "password": password})["access_token"]
    secret = _call(url, "/users/me/mfa/totp", token=token, method="POST")["secret"]
    confirmed = _call(url, "/users/me/mfa/totp/confirm", {"code": fuzz_formats.current_totp(secret)}, token)
    return {
        "FUZZ_MFA_USERNAME": username,
        "FUZZ_MFA_PASSWORD": password,
        "FUZZ_TOTP_SECRET": secret,
        "FUZZ_RECOVERY_CODES": ",".join(confirmed["recovery_codes"][:RECOVERY_CODES_GIVEN]),
    }


def statuses(log: str) -> Counter[int]:
    """How many requests the gateway answered with each status, from its access lines."""
    return Counter(int(match[1]) for line in log.splitlines() if (match := ACCESS_LINE.search(line)))


def fuzz(schemathesis: Path, workdir: Path) -> dict[str, Any]:
    """Run schemathesis against a fresh local server: its exit code and JSON report, and the
    statuses the server answered its requests with."""
    from local_api.process import ServerProcess  # noqa: PLC0415 - only to fuzz: a verdict needs no server

    server = ServerProcess(workdir / "server", env_vars=ENV_VARS)
    server.start()
    try:
        token = _admin_token(server)
        book = _call(server.url, "/books", {"title": "Fuzzed", "author": "Schemathesis"}, token)
        _call(server.url, "/books", {"title": "Another", "author": "Schemathesis"}, token)
        next_token = _call(server.url, "/books?limit=1", token=token)["next_token"]
        reader = _call(
            server.url, "/auth/signup", {"username": f"fuzz-{uuid.uuid4().hex[:12]}", "password": _password()}
        )
        mfa_user = _mfa_user(server.url)
        users_next_token = _call(server.url, "/users?limit=1", token=token)["next_token"]
        before = statuses(server.log())
        reports = workdir / "reports"
        environment = {
            **os.environ,
            **mfa_user,
            "FUZZ_URL": server.url,
            "FUZZ_TOKEN": token,
            "FUZZ_BOOK_ID": book["id"],
            "FUZZ_NEXT_TOKEN": next_token,
            "FUZZ_USER_ID": reader["user"]["id"],
            "FUZZ_USERS_NEXT_TOKEN": users_next_token,
        }
        command = [str(schemathesis), "--no-color", "--config-file", str(CONFIG), "run", str(DOCUMENT)]
        command += ["--url", server.url, "--workers", "1", "--report", "json", "--report-dir", str(reports)]
        done = subprocess.run(command, env=environment, cwd=ROOT, check=False)  # noqa: S603
        answered = statuses(server.log()) - before
    finally:
        stopped = server.stop()
    if stopped != 0:
        raise FuzzFailed(f"the local server exited with {stopped}:\n{server.log()[-3000:]}")
    found = list(reports.glob("json-*.json"))
    if len(found) != 1:
        raise FuzzFailed(f"schemathesis exited with {done.returncode} and wrote no report")
    report = json.loads(found[0].read_text())
    return {"exit_code": done.returncode, "report": report, "statuses": answered, "operations": operations()}


def operations() -> int:
    """How many operations docs/openapi.json describes."""
    document = json.loads(DOCUMENT.read_text())
    return sum(len(methods) for methods in document["paths"].values())


def verdict(result: dict[str, Any]) -> tuple[str, list[str]]:
    """One line of figures, and what failed."""
    report, answered = result["report"], result["statuses"]
    cases = report["test_cases"]
    requests = sum(answered.values())
    by_class = Counter(f"{status // 100}xx" for status in answered.elements())
    valid = Counter[str]()
    for phases in report["valid_rates"].values():
        for outcome in phases.values():
            valid.update(outcome)
    line = (
        f"fuzz: schemathesis {report['schemathesis_version']}, seed {report['seed']}: "
        f"{cases['generated']} test cases over {report['operations']['tested']} operations, "
        f"{cases['with_failures']} failed, {cases['errored']} errored; schema-valid ones: "
        f"{valid['accepted']} accepted, {valid['unreachable']} for a book not there, {valid['conflicts']} "
        f"conflicting, {valid['rejected']} refused; the server answered {requests} requests "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_class.items()))})"
    )
    problems = []
    if result["exit_code"] != 0:
        problems.append(f"schemathesis exited with {result['exit_code']}")
    for kind in FAILING_WARNINGS:
        if report["warnings"][kind]:
            problems.append(f"{kind} warning for {', '.join(report['warnings'][kind])}")
    if by_class.get("5xx"):
        problems.append(f"{by_class['5xx']} responses were 5xx")
    if cases["generated"] < MIN_TEST_CASES:
        problems.append(f"only {cases['generated']} test cases (at least {MIN_TEST_CASES} expected)")
    if report["operations"]["tested"] < result["operations"]:
        problems.append(
            f"{report['operations']['tested']} of the document's {result['operations']} operations tested"
        )
    return line, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemathesis", type=Path, required=True, help="the schemathesis executable")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="books-api-fuzz-") as workdir:
        line, problems = verdict(fuzz(args.schemathesis, Path(workdir)))
    print(line, flush=True)
    for problem in problems:
        print(f"fuzz: FAILED: {problem}", file=sys.stderr, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
