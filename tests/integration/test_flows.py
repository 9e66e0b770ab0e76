"""Whole flows over HTTP, as a client sees them: the same against the local server and a stack."""

from __future__ import annotations

import base64
import json

from local_api.http_client import Client

from .conftest import Target, User, unique

BOOK = {"title": "The Dispossessed", "author": "Ursula K. Le Guin", "year": 1974}


def test_health(client: Client) -> None:
    reply = client.get("/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_signup_login_and_profile(target: Target, client: Client) -> None:
    username = unique("it")
    secret = "correct horse battery staple " + username
    signup = client.post("/auth/signup", body={"username": username.upper(), "password": secret})
    assert signup.status == 201, signup.text
    assert signup.json["user"]["username"] == username
    assert signup.json["user"]["roles"] == ["reader"]
    assert signup.json["token_type"] == "Bearer"
    assert signup.header("cache-control") == "no-store"
    assert secret not in signup.text
    assert "password" not in json.dumps(signup.json["user"])

    taken = client.post("/auth/signup", body={"username": username, "password": secret})
    assert taken.status == 409

    by_json = client.post("/auth/login", body={"username": username, "password": secret})
    assert by_json.status == 200, by_json.text
    by_basic = client.post("/auth/login", basic=(username, secret))
    assert by_basic.status == 200, by_basic.text
    assert by_basic.json["access_token"] != by_json.json["access_token"]

    wrong = client.post("/auth/login", body={"username": username, "password": secret + "x"})
    assert wrong.status == 401
    assert wrong.json == {"message": "Invalid username or password"}

    me = client.get("/users/me", token=by_basic.json["access_token"])
    assert me.status == 200, me.text
    assert me.json == signup.json["user"]


def test_books_crud_as_admin(client: Client, admin: User) -> None:
    created = client.post("/books", token=admin.access_token, body=BOOK)
    assert created.status == 201, created.text
    book = created.json
    assert {key: book[key] for key in BOOK} == BOOK
    path = f"/books/{book['id']}"

    fetched = client.get(path, token=admin.access_token)
    assert fetched.status == 200
    assert fetched.json == book

    replaced = client.request("PUT", path, token=admin.access_token, body=dict(BOOK, year=1975))
    assert replaced.status == 200, replaced.text
    assert replaced.json["year"] == 1975
    assert replaced.json["created_at"] == book["created_at"]

    deleted = client.request("DELETE", path, token=admin.access_token)
    assert deleted.status == 204
    assert deleted.text == ""
    gone = client.get(path, token=admin.access_token)
    assert gone.status == 404
    assert set(gone.json) == {"message"}


def test_a_reader_reads_but_cannot_write(client: Client, admin: User, reader: User) -> None:
    book = client.post("/books", token=admin.access_token, body=BOOK).json
    path = f"/books/{book['id']}"
    try:
        assert client.get(path, token=reader.access_token).status == 200
        assert client.get("/books", token=reader.access_token).status == 200
        for method, route, body in (("POST", "/books", BOOK), ("PUT", path, BOOK), ("DELETE", path, None)):
            reply = client.request(method, route, token=reader.access_token, body=body)
            assert reply.status == 403, (method, reply.text)
            assert reply.json == {"message": "User is not authorized to access this resource"}
            assert reply.header("access-control-allow-origin") == "*"  # the template's DEFAULT_4XX
    finally:
        client.request("DELETE", path, token=admin.access_token)


def test_no_or_malformed_token_is_401(client: Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "x y"},
    ):
        reply = client.get("/books", headers=headers)
        assert reply.status == 401, headers
        assert reply.json == {"message": "Unauthorized"}
        assert reply.header("cache-control") == "no-store"  # the template's DEFAULT_4XX
        assert reply.header("access-control-allow-origin") == "*"


def test_a_token_the_authorizer_refuses_is_401_not_502(client: Client, reader: User) -> None:
    """The authorizer raises Exception("Unauthorized"): API Gateway answers 401."""
    header, payload, signature = reader.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims = dict(claims, roles=["reader", "admin"])
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("=")
    for token in ("not.a.jwt", f"{header}.{forged}.{signature}", reader.refresh_token):
        reply = client.get("/books", token=token)
        assert reply.status == 401, (token[:12], reply.text)
        assert reply.json == {"message": "Unauthorized"}


def test_pagination_visits_every_book_once(client: Client, admin: User, reader: User) -> None:
    marker = unique("page")
    created = [
        client.post("/books", token=admin.access_token, body={"title": f"{marker} {i}", "author": "A"}).json[
            "id"
        ]
        for i in range(5)
    ]
    try:
        seen: list[str] = []
        pages = 0
        next_token = None
        while True:
            query = "?limit=2" + (f"&next_token={next_token}" if next_token else "")
            reply = client.get("/books" + query, token=reader.access_token)
            assert reply.status == 200, reply.text
            assert len(reply.json["items"]) <= 2
            seen += [book["id"] for book in reply.json["items"]]
            pages += 1
            next_token = reply.json["next_token"]
            if next_token is None:
                break
        assert pages >= 3
        assert len(seen) == len(set(seen))
        assert set(created) <= set(seen)

        forged = client.get("/books?limit=2&next_token=bm90LWEtdG9rZW4", token=reader.access_token)
        assert forged.status == 400
        too_many = client.get("/books?limit=101", token=reader.access_token)
        assert too_many.status == 400
    finally:
        for book_id in created:
            client.request("DELETE", f"/books/{book_id}", token=admin.access_token)


def test_cors_preflight_is_answered_from_the_template(client: Client) -> None:
    reply = client.request(
        "OPTIONS",
        "/books",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization,Content-Type",
        },
    )
    assert reply.status == 200
    assert reply.header("access-control-allow-origin") == "*"
    assert set(reply.header("access-control-allow-methods").split(",")) >= {"GET", "POST", "PUT", "DELETE"}
    assert reply.header("access-control-allow-headers") == "Authorization,Content-Type"
    assert reply.header("access-control-max-age") == "600"


def test_an_unknown_route_is_403_missing_authentication_token(client: Client) -> None:
    for method, path in (("GET", "/nowhere"), ("PATCH", "/books")):
        reply = client.request(method, path)
        assert reply.status == 403
        assert reply.json == {"message": "Missing Authentication Token"}


def test_bad_input_is_a_json_4xx(client: Client, admin: User) -> None:
    not_json = client.post(
        "/books", token=admin.access_token, raw="title=x", headers={"Content-Type": "text/plain"}
    )
    assert not_json.status == 415
    assert not_json.json["message"]
    missing = client.post("/books", token=admin.access_token, body={"title": "no author"})
    assert missing.status == 400
    assert missing.json["message"]
