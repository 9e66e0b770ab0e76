"""local_api.moto_process: moto's server in a process of its own, patched as in the server's, and
gone when its stdin closes (when the server that started it stops or dies)."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoResult

from local_api import REGION, moto_process
from local_api.runtime import FAKE_CREDENTIALS


def _client(service: str, port: int) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["key"],
        aws_secret_access_key=FAKE_CREDENTIALS["secret"],
    )


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_installs_the_patches_writes_its_port_and_stops_when_stdin_closes(moto_patched: None) -> None:
    stdin_read, stdin_write = os.pipe()
    reply_read, reply_write = os.pipe()
    with os.fdopen(stdin_read, "rb") as stdin, os.fdopen(reply_write, "wb") as reply:
        serving = threading.Thread(target=moto_process.serve, args=("127.0.0.1", 0, stdin, reply))
        serving.start()
        with os.fdopen(reply_read, "rb") as replies:
            port = int(replies.readline())
        assert getattr(DynamoDBBackend.put_item, "__books_api_atomic__", False)
        assert getattr(DynamoResult.execute_result, "__books_api_fast__", False)
        assert _client("dynamodb", port).list_tables()["TableNames"] == []
        os.close(stdin_write)
        serving.join(10)
    assert not serving.is_alive()
    assert not _accepts(port)


def test_the_process_serves_dynamodb_and_exits_when_stopped() -> None:
    moto = moto_process.MotoProcess("127.0.0.1", 0)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        assert host == "127.0.0.1" and port > 0
        dynamodb = _client("dynamodb", port)
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}})
        assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}
    finally:
        moto.stop()
    assert moto.process is not None and moto.process.returncode == 0
    assert not _accepts(port)


def test_a_port_in_use_stops_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        moto = moto_process.MotoProcess("127.0.0.1", taken.getsockname()[1])
        with pytest.raises(SystemExit, match="did not start"):
            moto.start()
    assert moto.process is not None and moto.process.poll() is not None
