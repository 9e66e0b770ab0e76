"""``make sam-local-check``'s own decisions, offline: what SAM CLI and the containers inherit, which
containers are this check's to remove, and where moto listens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_api import sam_local_check
from local_api.sam_local_check import BUILD_DIR, isolated_environment, network, ours


def test_sam_cli_inherits_no_aws_configuration_and_no_admin_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_SESSION_TOKEN": "real-session",
        "AWS_PROFILE": "work",
        "AWS_REGION": "eu-west-1",
        "ADMIN_PASSWORD": "the admin's",
    }.items():
        monkeypatch.setenv(name, value)
    env = isolated_environment(tmp_path)
    assert not {name for name in env if name.startswith("AWS_")} - {
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_EC2_METADATA_DISABLED",
    }
    assert "ADMIN_PASSWORD" not in env
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert Path(env[name]).parent == tmp_path
        assert not Path(env[name]).exists()
    assert env["SAM_CLI_TELEMETRY"] == "0"


def test_only_containers_of_this_build_are_ours() -> None:
    build = str(BUILD_DIR.resolve())
    containers = {
        "a1": f"{build}/BooksFunction",
        "b2": "/elsewhere/.aws-sam/build/BooksFunction",
        "c3": f"{build}-copy/LoginFunction",
        "d4": "",
    }
    assert ours(containers) == {"a1": "BooksFunction"}


def test_moto_listens_on_loopback_where_docker_desktop_reaches_the_host() -> None:
    assert network("Darwin") == sam_local_check.Network("127.0.0.1", ())


def test_on_linux_moto_listens_on_the_bridge_and_sam_cli_maps_the_name_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The default bridge as docker 20.10 describes it: no Gateway in its IPAM configuration.
    inspected = json.dumps(
        {
            "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]},
            "Options": {"com.docker.network.bridge.name": "br0"},
        }
    )
    monkeypatch.setattr(sam_local_check, "docker", lambda *arguments, check=True: inspected)
    monkeypatch.setattr(sam_local_check, "interface_address", lambda name: {"br0": "172.17.0.1"}[name])
    found = network("Linux")
    assert found.moto_host == "172.17.0.1"
    assert found.sam_arguments == ("--add-host", "host.docker.internal:host-gateway")
