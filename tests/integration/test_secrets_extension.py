"""The local server's Parameters and Secrets Lambda Extension, over real HTTP, as the functions use it."""

from __future__ import annotations

import http.client
import json

import boto3
import pytest

from books_api.secret_source import TOKEN_HEADER, ExtensionSecrets, SecretNotFound, SecretUnavailable
from local_api import REGION
from local_api.process import ServerProcess

pytestmark = pytest.mark.local_only

READERS = ("AuthorizerFunction", "SignupFunction", "LoginFunction", "BooksFunction")


def test_each_function_that_reads_a_secret_is_given_the_extension_and_a_session_token(
    local_server: ServerProcess,
) -> None:
    port = local_server.state["secrets_extension_port"]
    functions = local_server.state["functions"]
    for name in READERS:
        environment = functions[name]["environment"]
        assert environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == str(port), name
        assert environment["AWS_SESSION_TOKEN"], name


def test_the_client_reads_moto_secrets_through_it_on_localhost(
    local_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = local_server.state
    environment = state["functions"]["AuthorizerFunction"]["environment"]
    monkeypatch.setenv("AWS_SESSION_TOKEN", environment["AWS_SESSION_TOKEN"])
    secret = environment["SIGNING_SECRET_ARN"]
    moto = boto3.client(
        "secretsmanager",
        endpoint_url=state["moto_endpoint"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    expected = moto.get_secret_value(SecretId=secret)
    client = ExtensionSecrets(state["secrets_extension_port"])
    read = client(secret, "AWSCURRENT")
    assert (read.value, read.created) == (expected["SecretString"], expected["CreatedDate"].timestamp())
    previous = moto.describe_secret(SecretId=secret)["VersionIdsToStages"]
    if not any("AWSPREVIOUS" in stages for stages in previous.values()):
        with pytest.raises(SecretNotFound):
            client(secret, "AWSPREVIOUS")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-the-functions")
    with pytest.raises(SecretUnavailable):
        client(secret, "AWSCURRENT")


def test_without_the_token_it_answers_401_and_no_secret(local_server: ServerProcess) -> None:
    state = local_server.state
    secret = state["functions"]["BooksFunction"]["environment"]["PAGE_TOKEN_SECRET_ARN"]
    for headers in ({}, {TOKEN_HEADER: "guess"}):
        connection = http.client.HTTPConnection("127.0.0.1", state["secrets_extension_port"], timeout=5)
        try:
            connection.request("GET", f"/secretsmanager/get?secretId={secret}", headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read())
        finally:
            connection.close()
        assert response.status == 401
        assert "SecretString" not in body
