"""``make sam-local-check``: the README's walk-through through ``sam local start-api``, in Lambda's
containers, against moto, with no AWS account; then everything it started is stopped.

    .venv/bin/python -m local_api.sam_local_check [--requests 200] [--books 20]

It needs a Docker daemon and SAM CLI's python3.13 base image for this host's architecture
(``public.ecr.aws/lambda/python:3.13-x86_64`` or ``-arm64``): Docker pulls it, or, where no
registry is reachable, ``../shared/tools/lambda-docker.sh image x86_64`` builds it, and then the
check passes ``--skip-pull-image``. In order:

1. ``sam build``, as it is: one build holds both architectures' dependency layers.
2. moto alone (``python -m local_api --moto-only``) with the template's tables and secrets and an
   admin, on the address the containers reach: the docker0 bridge on Linux, else 127.0.0.1
   (Docker Desktop's ``host.docker.internal``); ``--env-vars`` names it and moto's resources.
3. ``sam local start-api`` with samconfig.toml's local section for this host's architecture
   (the default one for x86_64, ``--config-env arm64``), and no AWS configuration at all: no
   credentials, no profile, an empty config file.
4. The walk-through (``local_api/walk_through.py``): every status and body shape, with SAM CLI's
   502 for a forged token; then ``--books`` books and ``--requests`` timed authorized GET /books.
5. SIGTERM to SAM CLI (a background job of a script has SIGINT ignored, so SAM CLI would not see
   Ctrl-C's signal there), then moto. A container SAM CLI leaves behind is a difference too: it
   is named and removed (with EAGER warm containers SAM CLI 1.170 loses track of some, see
   samconfig.toml), and none of this build's may remain.

Exits 1 on any difference. Nothing it prints holds a token or a password; SAM CLI's output is
kept in a temporary file and shown (its last lines) only if SAM CLI fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_api.http_client import Client
from local_api.samlocal import CONFIG_ENVS, env_vars, host_architecture, local_parameters
from local_api.walk_through import Step, get_books_timings, percentiles, walk_through
from stack.template import ROOT
from tools.bytecode import compile_build

BUILD_DIR = ROOT / ".aws-sam" / "build"
CONTAINER_LABEL = "sam.cli.container.type=lambda"
READY_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 90.0
ADMIN_USERNAME = "admin"
SIOCGIFADDR = 0x8915
SLOW_MS = 500


class CheckFailed(RuntimeError):
    pass


def base_image(architecture: str) -> str:
    return f"public.ecr.aws/lambda/python:3.13-{architecture}"


@dataclass(frozen=True)
class Network:
    """Where moto listens so that Lambda's containers reach it, and what SAM CLI must add for that."""

    moto_host: str
    sam_arguments: tuple[str, ...]


def docker(*arguments: str, check: bool = True) -> str:
    done = subprocess.run(  # noqa: S603 - docker, with arguments of ours
        ["docker", *arguments],  # noqa: S607 - the docker CLI on PATH, as SAM CLI's users have it
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise CheckFailed(f"docker {' '.join(arguments[:2])} failed: {done.stderr.strip()[:300]}")
    return done.stdout


def interface_address(name: str) -> str:
    """The IPv4 address of the network interface ``name`` (Linux: SIOCGIFADDR)."""
    import fcntl  # noqa: PLC0415 - Unix only, and needed on Linux only

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name[:15].encode())
        return socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24])


def network(system: str | None = None) -> Network:
    """On Linux, moto on the address of docker's bridge (not 0.0.0.0: moto has no authentication),
    which ``host-gateway`` names; Docker Desktop maps ``host.docker.internal`` to the host itself."""
    if (system or platform.system()) != "Linux":
        return Network("127.0.0.1", ())
    bridge = json.loads(docker("network", "inspect", "bridge", "--format", "{{json .}}"))
    gateways = [config.get("Gateway") for config in bridge.get("IPAM", {}).get("Config") or []]
    # The default bridge often leaves its gateway out of IPAM: it is the bridge interface's address.
    name = bridge.get("Options", {}).get("com.docker.network.bridge.name", "docker0")
    try:
        address = next(filter(None, gateways), None) or interface_address(name)
    except OSError as error:
        raise CheckFailed(f"no address of docker's bridge ({name}) for moto to listen on: {error}") from None
    return Network(address, ("--add-host", "host.docker.internal:host-gateway"))


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def isolated_environment(workdir: Path) -> dict[str, str]:
    """This environment without any AWS configuration: SAM CLI and the containers then get its
    defaults (a fake key, us-east-1 from samconfig.toml), and no real credential reaches them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ADMIN_")) and key not in ("PORT", "API_URL")
    }
    env.update(
        {
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def sam_containers() -> dict[str, str]:
    """SAM CLI's Lambda containers on this daemon, running or not: id -> the /var/task they mount."""
    ids = docker("ps", "-aq", "--filter", f"label={CONTAINER_LABEL}").split()
    found = {}
    for container in ids:
        mounts = docker("inspect", "--format", "{{json .Mounts}}", container, check=False).strip()
        task = [m["Source"] for m in json.loads(mounts or "[]") if m.get("Destination") == "/var/task"]
        found[container] = task[0] if task else ""
    return found


def ours(containers: Mapping[str, str], build_dir: Path = BUILD_DIR) -> dict[str, str]:
    """Those of ``containers`` that run a function of ``build_dir``: id -> function."""
    root = str(build_dir.resolve()) + os.sep
    return {cid: task[len(root) :] for cid, task in containers.items() if task.startswith(root)}


def _stop(process: subprocess.Popen[bytes], timeout: float) -> str:
    """SIGTERM to the process group, SIGKILL after ``timeout``; how it ended."""
    if process.poll() is not None:
        return f"had exited with {process.returncode}"
    started_at = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return f"did not stop in {timeout:.0f} s on SIGTERM: killed"
    return f"stopped in {time.monotonic() - started_at:.0f} s on SIGTERM, exit status {process.returncode}"


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@contextmanager
def started(
    command: Sequence[str], *, env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our interpreter or SAM CLI, with arguments of ours
            list(command),
            cwd=ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        print(f"  {log.stem}: {_stop(process, STOP_TIMEOUT_SECONDS)}", flush=True)


def wait_for(ready: str, log: Path, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise CheckFailed(f"{log.stem} exited with {process.returncode}:\n{_tail(log)}")
        time.sleep(0.5)
    raise CheckFailed(f"{log.stem} was not ready in {timeout:.0f} s:\n{_tail(log)}")


def wait_healthy(client: Client, process: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until GET /health answers 200 (SAM CLI builds an image and starts every container first)."""
    started_at = time.monotonic()
    while time.monotonic() - started_at < READY_TIMEOUT_SECONDS:
        if process.poll() is not None:
            raise CheckFailed(f"sam local start-api exited with {process.returncode}:\n{_tail(log)}")
        try:
            if client.get("/health", timeout=5).status == 200:
                return time.monotonic() - started_at
        except OSError:
            pass
        time.sleep(1)
    raise CheckFailed(f"sam local start-api did not answer in {READY_TIMEOUT_SECONDS:.0f} s:\n{_tail(log)}")


def sam_build(env: Mapping[str, str]) -> None:
    done = subprocess.run(  # noqa: S603 - SAM CLI of this venv
        [str(Path(sys.executable).parent / "sam"), "build"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CheckFailed(f"sam build failed:\n{(done.stdout + done.stderr)[-3000:]}")
    compile_build(BUILD_DIR)  # as `make build` does: the containers' python3.13 loads this bytecode


def print_steps(steps: list[Step]) -> None:
    for step in steps:
        print(step.line(), flush=True)


def run(requests: int, books: int, log_dir: Path | None = None) -> int:
    if shutil.which("docker") is None:
        raise CheckFailed("no docker CLI on PATH: this check needs Docker")
    docker("info", "--format", "{{.ServerVersion}}")
    try:
        architecture = host_architecture()
    except ValueError as error:
        raise CheckFailed(str(error)) from None
    config_env = CONFIG_ENVS[architecture]
    if local_parameters(config_env).get("Architecture") != architecture:
        raise CheckFailed(f"samconfig.toml's {config_env} local section does not run {architecture}")
    image_present = docker("image", "inspect", base_image(architecture), check=False) != ""
    net = network()
    with tempfile.TemporaryDirectory(prefix="sam-local-check-") as temporary:
        workdir = Path(temporary)
        env = isolated_environment(workdir)
        print(f"sam build (host {architecture}, samconfig.toml [{config_env}] local sections)", flush=True)
        sam_build(env)
        moto_port, api_port = free_port(net.moto_host), free_port("127.0.0.1")
        (workdir / "env.json").write_text(json.dumps(env_vars(f"http://host.docker.internal:{moto_port}")))
        admin = (ADMIN_USERNAME, secrets.token_urlsafe(18))
        moto_command = [
            sys.executable,
            "-m",
            "local_api",
            "--moto-only",
            "--moto-host",
            net.moto_host,
            "--moto-port",
            str(moto_port),
            "--state-file",
            str(workdir / "moto-state.json"),
        ]
        sam_command = [
            str(Path(sys.executable).parent / "sam"),
            "local",
            "start-api",
            "--port",
            str(api_port),
            "--env-vars",
            str(workdir / "env.json"),
            *(["--config-env", config_env] if config_env != "default" else []),
            *(["--skip-pull-image"] if image_present else []),
            *net.sam_arguments,
        ]
        before = set(sam_containers())
        moto_env = {**env, "ADMIN_USERNAME": admin[0], "ADMIN_PASSWORD": admin[1]}
        client = Client(f"http://127.0.0.1:{api_port}")
        failures = 0
        try:
            with started(moto_command, env=moto_env, log=workdir / "moto.log") as moto:
                wait_for("moto is serving", workdir / "moto.log", moto, 60)
                print(f"moto at http://{net.moto_host}:{moto_port} with the template's tables and secrets")
                pulled = "--skip-pull-image" if image_present else "pulling"
                print(f"sam local start-api on 127.0.0.1:{api_port} ({base_image(architecture)}, {pulled})")
                with started(sam_command, env=env, log=workdir / "sam.log") as sam:
                    seconds = wait_healthy(client, sam, workdir / "sam.log")
                    print(
                        f"  GET /health answered after {seconds:.0f} s (image builds, containers)", flush=True
                    )
                    steps = walk_through(client, admin, sam_cli_gateway=True)
                    print_steps(steps)
                    failures += sum(not step.ok for step in steps)
                    if not failures:
                        failures += timing(client, admin, requests=requests, books=books)
                    print("stopping sam local start-api, then moto", flush=True)
        finally:
            failures += clean_up(before)
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                for log in ("sam.log", "moto.log"):
                    if (workdir / log).exists():
                        shutil.copy2(workdir / log, log_dir / log)
    print("sam-local-check: " + ("passed" if not failures else f"{failures} difference(s)"), flush=True)
    return 1 if failures else 0


def timing(client: Client, admin: tuple[str, str], *, requests: int, books: int) -> int:
    admin_token = client.post("/auth/login", basic=admin).json["access_token"]
    for number in range(books):
        body = {"title": f"Book {number}", "author": "Check"}
        if client.post("/books", body=body, token=admin_token).status != 201:
            print("  FAIL could not add the books to time GET /books with", flush=True)
            return 1
    reader = {"username": f"timer-{secrets.token_hex(4)}", "password": f"timing {secrets.token_urlsafe(12)}"}
    signed_up = client.post("/auth/signup", body=reader)
    if signed_up.status != 201:
        print(f"  FAIL {signed_up.status} signing up the reader that times GET /books", flush=True)
        return 1
    timings = get_books_timings(client, signed_up.json["access_token"], requests=requests)
    figures = "   ".join(f"{name} {value:.1f} ms" for name, value in percentiles(timings).items())
    print(f"  authorized GET /books, {requests} sequential requests, warm: {figures}", flush=True)
    # SAM CLI waits up to 1 s after an invocation for the container's REPORT log line (docs/LOCAL.md).
    slow = sum(ms > SLOW_MS for ms in timings)
    print(f"  {slow} of them over {SLOW_MS} ms (SAM CLI's wait for a function's log line)", flush=True)
    return 0


def clean_up(before: set[str]) -> int:
    """Remove the containers of this build that SAM CLI left (each one a difference)."""
    left = {cid: function for cid, function in ours(sam_containers()).items() if cid not in before}
    for cid, function in left.items():
        print(f"  FAIL SAM CLI left the container of {function or '?'} ({cid[:12]}): removed", flush=True)
        docker("rm", "--force", cid, check=False)
    remaining = [cid for cid in ours(sam_containers()) if cid not in before]
    if remaining:
        print(f"  FAIL containers still there: {', '.join(cid[:12] for cid in remaining)}", flush=True)
    else:
        print("  no container of this check is left (docker ps -a)", flush=True)
    return len(left) + len(remaining)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_api.sam_local_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=200, help="timed GET /books (default 200)")
    parser.add_argument("--books", type=int, default=20, help="books added before timing (default 20)")
    parser.add_argument(
        "--log-dir", type=Path, help="keep SAM CLI's and moto's output there (the functions' log lines)"
    )
    args = parser.parse_args(argv)
    # Stopped by SIGTERM (make interrupted, say), still stop what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(run(args.requests, args.books, args.log_dir))
    except CheckFailed as error:
        print(f"sam-local-check: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
