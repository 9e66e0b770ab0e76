"""The JWT attack matrix (jwt_tool's attack classes, RFC 8725): every forged, altered, misplaced or
malformed token is a 401 on an admin write (POST /books, which then wrote nothing) and on a read
(GET /users/me). Then every Bearer route: no token and an MFA token are a 401, a reader's token on
an admin route a 403, and none of them writes anything.

Forgeries that need a valid signature are signed with the real key, read from moto: each changes
one thing from a token the API accepts, which the control tests show it does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from books_api.permissions import ADMIN, PROTECTED_ROUTES
from stack.template import routes

from .conftest import World, writable_tables
from .harness import Headers, assert_refused, send

DROP = object()  # remove this header parameter or claim
BOOK = json.dumps({"title": "Forged", "author": "Mallory"}).encode()
ATTACKER_KEY = b"attacker-chosen-key-of-32-bytes!"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
YEAR = 365 * 24 * 3600
UNAUTHORIZED = {"message": "Unauthorized"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _edit(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    edited = {**base, **changes}
    return {key: value for key, value in edited.items() if value is not DROP}


@dataclass(frozen=True)
class Forge:
    """Tokens for this server: the real key, issuer, audience and lifetime, and an admin's claims."""

    world: World
    now: int

    @property
    def kid(self) -> str:
        return self.world.key.kid

    def header(self, **changes: Any) -> dict[str, Any]:
        return _edit({"alg": "HS256", "kid": self.kid, "typ": "at+jwt"}, changes)

    def claims(self, **changes: Any) -> dict[str, Any]:
        key = self.world.key
        admin = jwt.decode(self.world.admin.access_token, options={"verify_signature": False})
        claims = {
            "iss": key.issuer,
            "aud": key.audience,
            "sub": admin["sub"],
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + key.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "username": admin["username"],
            "roles": ["reader", "admin"],
            "sid": admin["sid"],
        }
        return _edit(claims, changes)

    def signed(self, header: dict[str, Any], claims: dict[str, Any], key: bytes | None = None) -> str:
        """HS256 over exactly this header and these claims, whatever the header says."""
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        secret = self.world.key.secret if key is None else key
        return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"

    def unsigned(self, header: dict[str, Any], claims: dict[str, Any] | None = None) -> str:
        return f"{_segment(header)}.{_segment(self.claims() if claims is None else claims)}."

    def pyjwt(self, header: dict[str, Any], claims: dict[str, Any] | None = None, key: Any = None) -> str:
        """Signed by PyJWT with the header's algorithm (the real key unless told otherwise)."""
        return jwt.encode(
            self.claims() if claims is None else claims,
            self.world.key.secret if key is None else key,
            algorithm=header["alg"],
            headers=header,
        )

    def real(self, **changes: Any) -> str:
        """A token the API accepts (see the control), with these claims changed."""
        return self.signed(self.header(), self.claims(**changes))

    def with_header(self, **changes: Any) -> str:
        return self.signed(self.header(**changes), self.claims())


def _swap(token: str, part: int, value: str) -> str:
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


def _flip(token: str, index: int) -> str:
    """Another base64url character at ``index`` (inside the signature, where all six bits count)."""
    return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]


def _payload(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# (id, the token from a Forge): each sent as "Authorization: Bearer <token>".
TOKENS: list[tuple[str, Callable[[Forge], str]]] = [
    # alg: none in every spelling, absent, empty, unknown, or not a string
    *[
        (f"alg-{alg}", lambda f, a=alg: f.unsigned(f.header(alg=a)))
        for alg in ("none", "None", "NONE", "nOnE")
    ],
    ("alg-none-keeping-the-signature", lambda f: _swap(f.real(), 0, _segment(f.header(alg="none")))),
    ("alg-none-bare-header", lambda f: f.unsigned({"alg": "none"})),
    ("alg-absent", lambda f: f.with_header(alg=DROP)),
    ("alg-empty", lambda f: f.with_header(alg="")),
    ("alg-null", lambda f: f.with_header(alg=None)),
    ("alg-lower-case", lambda f: f.with_header(alg="hs256")),
    ("alg-list", lambda f: f.with_header(alg=["HS256"])),
    # other algorithms: HMAC ones with the real key, public-key ones with keys of the attacker's,
    # and a public-key header over an HMAC made with the real key (algorithm confusion)
    ("HS384-real-key", lambda f: f.pyjwt(f.header(alg="HS384"))),
    ("HS512-real-key", lambda f: f.pyjwt(f.header(alg="HS512"))),
    ("RS256-own-key", lambda f: f.pyjwt(f.header(alg="RS256"), key=RSA_KEY)),
    ("PS256-own-key", lambda f: f.pyjwt(f.header(alg="PS256"), key=RSA_KEY)),
    ("ES256-own-key", lambda f: f.pyjwt(f.header(alg="ES256"), key=EC_KEY)),
    ("EdDSA-own-key", lambda f: f.pyjwt(f.header(alg="EdDSA"), key=ED_KEY)),
    ("RS256-header-hmac-real-key", lambda f: f.with_header(alg="RS256")),
    ("ES256-header-hmac-real-key", lambda f: f.with_header(alg="ES256")),
    ("PS256-header-hmac-real-key", lambda f: f.with_header(alg="PS256")),
    # the signature stripped, cut, altered or borrowed
    ("signature-stripped", lambda f: f.real().rsplit(".", 1)[0] + "."),
    ("signature-and-dot-stripped", lambda f: f.real().rsplit(".", 1)[0]),
    ("signature-truncated", lambda f: f.real()[:-6]),
    ("signature-one-character-changed", lambda f: _flip(f.real(), -10)),
    ("signature-of-another-token", lambda f: _swap(f.real(), 2, f.world.reader.access_token.split(".")[2])),
    ("four-segments", lambda f: f.real() + ".e30"),
    ("five-segments-like-jwe", lambda f: f"{_segment(f.header(enc='A128GCM'))}.x.x.x.x"),
    ("empty-segments", lambda f: ".."),
    ("one-segment", lambda f: _segment(f.claims())),
    # re-signed with an empty, common or public-ish key (the kid, the issuer, the secret's ARN...)
    ("key-empty", lambda f: f.signed(f.header(), f.claims(), b"")),
    *[
        (f"key-{key}", lambda f, k=key: f.signed(f.header(), f.claims(), k.encode()))
        for key in ("secret", "password", "changeme", "null", "books-api")
    ],
    ("key-the-kid", lambda f: f.signed(f.header(), f.claims(), f.kid.encode())),
    ("key-the-issuer", lambda f: f.signed(f.header(), f.claims(), f.world.key.issuer.encode())),
    ("key-the-audience", lambda f: f.signed(f.header(), f.claims(), f.world.key.audience.encode())),
    ("key-the-stack-name", lambda f: f.signed(f.header(), f.claims(), f.world.stack_name.encode())),
    ("key-the-secret-arn", lambda f: f.signed(f.header(), f.claims(), f.world.secret_arn.encode())),
    ("key-the-admin-username", lambda f: f.signed(f.header(), f.claims(), f.world.admin.username.encode())),
    (
        "key-the-real-key-base64",
        lambda f: f.signed(f.header(), f.claims(), base64.b64encode(f.world.key.secret)),
    ),
    # header parameters that name or carry a key, or change how the token is read
    (
        "jwk-attacker-key",
        lambda f: f.signed(f.header(jwk={"kty": "oct", "k": b64url(ATTACKER_KEY)}), f.claims(), ATTACKER_KEY),
    ),
    ("jwk-real-signature", lambda f: f.with_header(jwk={"kty": "oct", "k": b64url(b"x" * 32)})),
    (
        "jku-attacker-key",
        lambda f: f.signed(f.header(jku="http://127.0.0.1:9/jwks.json"), f.claims(), ATTACKER_KEY),
    ),
    ("jku-real-signature", lambda f: f.with_header(jku="http://127.0.0.1:9/jwks.json")),
    ("x5u-real-signature", lambda f: f.with_header(x5u="http://127.0.0.1:9/cert.pem")),
    ("x5c-real-signature", lambda f: f.with_header(x5c=[base64.b64encode(b"not a certificate").decode()])),
    ("x5t-real-signature", lambda f: f.with_header(x5t=b64url(b"0" * 20))),
    ("crit-exp", lambda f: f.with_header(crit=["exp"])),
    ("crit-b64-false", lambda f: f.with_header(crit=["b64"], b64=False)),
    ("crit-empty", lambda f: f.with_header(crit=[])),
    ("cty-nested-jwt", lambda f: f.with_header(cty="JWT")),
    ("zip-deflate", lambda f: f.with_header(zip="DEF")),
    # kid: traversal to a file with known (empty) contents, injection, a URL, wrong types
    ("kid-traversal-dev-null", lambda f: f.signed(f.header(kid="../../dev/null"), f.claims(), b"")),
    ("kid-absolute-dev-null", lambda f: f.signed(f.header(kid="/dev/null"), f.claims(), b"")),
    ("kid-traversal-encoded", lambda f: f.signed(f.header(kid="..%2F..%2Fdev%2Fnull"), f.claims(), b"")),
    ("kid-sql-union", lambda f: f.signed(f.header(kid="x' UNION SELECT 'secret'-- "), f.claims(), b"secret")),
    ("kid-sql-or", lambda f: f.signed(f.header(kid="' OR '1'='1"), f.claims(), b"")),
    ("kid-shell-substitution", lambda f: f.signed(f.header(kid="$(id)"), f.claims(), b"")),
    ("kid-shell-pipe", lambda f: f.signed(f.header(kid="key|id"), f.claims(), b"")),
    ("kid-url", lambda f: f.signed(f.header(kid="http://127.0.0.1:9/key"), f.claims(), b"")),
    ("kid-file-url", lambda f: f.signed(f.header(kid="file:///dev/null"), f.claims(), b"")),
    ("kid-absent", lambda f: f.with_header(kid=DROP)),
    ("kid-empty", lambda f: f.with_header(kid="")),
    ("kid-null", lambda f: f.with_header(kid=None)),
    ("kid-number", lambda f: f.with_header(kid=1)),
    ("kid-list", lambda f: f.with_header(kid=[f.kid])),
    ("kid-real-with-suffix", lambda f: f.with_header(kid=f.kid + "A")),
    ("kid-non-ascii", lambda f: f.with_header(kid="ключ")),
    (
        "kid-of-attacker-key",
        lambda f: f.signed(
            f.header(kid=b64url(hashlib.sha256(ATTACKER_KEY).digest())), f.claims(), ATTACKER_KEY
        ),
    ),
    # typ: only an access token is an access token
    ("typ-absent", lambda f: f.with_header(typ=DROP)),
    ("typ-JWT", lambda f: f.with_header(typ="JWT")),
    ("typ-upper-case", lambda f: f.with_header(typ="AT+JWT")),
    ("typ-media-type", lambda f: f.with_header(typ="application/at+jwt")),
    ("typ-refresh", lambda f: f.with_header(typ="refresh+jwt")),
    ("typ-id-token", lambda f: f.with_header(typ="id_token+jwt")),
    # claims: each required one missing, expired, not yet valid, too long-lived, wrong issuer or audience
    *[
        (f"claim-{name}-missing", lambda f, n=name: f.real(**{n: DROP}))
        for name in ("iss", "aud", "sub", "iat", "exp", "jti", "username", "roles", "sid")
    ],
    ("expired", lambda f: f.real(iat=f.now - 2000, nbf=f.now - 2000, exp=f.now - 1100)),
    ("expired-past-the-leeway", lambda f: f.real(iat=f.now - 910, nbf=f.now - 910, exp=f.now - 10)),
    ("nbf-in-the-future", lambda f: f.real(nbf=f.now + 600)),
    ("iat-in-the-future", lambda f: f.real(iat=f.now + 600, nbf=f.now + 600, exp=f.now + 1200)),
    ("exp-far-future", lambda f: f.real(exp=f.now + 10 * YEAR)),
    ("lifetime-longer-than-allowed", lambda f: f.real(exp=f.now + f.world.key.ttl_seconds + 60)),
    ("exp-a-string", lambda f: f.real(exp=str(f.now + 600))),
    ("exp-a-float", lambda f: f.real(exp=f.now + 600.5)),
    ("exp-true", lambda f: f.real(exp=True)),
    ("iat-a-string", lambda f: f.real(iat=str(f.now))),
    ("iss-wrong", lambda f: f.real(iss="urn:books-api:another-stack")),
    ("iss-null", lambda f: f.real(iss=None)),
    ("aud-wrong", lambda f: f.real(aud="urn:books-api:another-stack:api")),
    ("aud-list-with-ours", lambda f: f.real(aud=[f.world.key.audience, "urn:other"])),
    ("aud-list-of-ours", lambda f: f.real(aud=[f.world.key.audience])),
    ("roles-a-string", lambda f: f.real(roles="admin")),
    ("roles-an-object", lambda f: f.real(roles={"admin": True})),
    ("roles-not-strings", lambda f: f.real(roles=[1])),
    ("roles-null", lambda f: f.real(roles=None)),
    ("sub-empty", lambda f: f.real(sub="")),
    ("sub-a-number", lambda f: f.real(sub=1)),
    ("username-a-list", lambda f: f.real(username=["admin"])),
    ("sid-empty", lambda f: f.real(sid="")),
    ("jti-a-number", lambda f: f.real(jti=1)),
    # a real token's claims edited, its signature kept: a reader made admin, another user, longer life
    (
        "reader-edited-to-admin",
        lambda f: _swap(
            f.world.reader.access_token,
            1,
            _segment({**_payload(f.world.reader.access_token), "roles": ["reader", "admin"]}),
        ),
    ),
    (
        "reader-edited-to-another-subject",
        lambda f: _swap(
            f.world.reader.access_token, 1, _segment({**_payload(f.world.admin.access_token), "jti": "x"})
        ),
    ),
    (
        "admin-edited-to-live-longer",
        lambda f: _swap(
            f.world.admin.access_token,
            1,
            _segment({**_payload(f.world.admin.access_token), "exp": f.now + 10 * YEAR}),
        ),
    ),
    (
        "reader-payload-under-admin-header-and-signature",
        lambda f: _swap(f.world.admin.access_token, 1, f.world.reader.access_token.split(".")[1]),
    ),
    # not an access token at all
    ("a-refresh-token", lambda f: f.world.reader.refresh_token),
    ("an-admin-refresh-token", lambda f: f.world.admin.refresh_token),
    ("an-mfa-token", lambda f: f.world.mfa_token()),
    ("an-opaque-string", lambda f: "0123456789abcdef"),
    ("over-8-kb-signed", lambda f: f.real(pad="x" * 9000)),
    ("over-8-kb-junk", lambda f: "a" * 8193),
    ("just-over-4-kb-signed", lambda f: f.real(pad="x" * 3400)),
]


def _bearer(token: str) -> Headers:
    return [("Authorization", f"Bearer {token}")]


# (id, headers from a Forge, query string): the token in the wrong place, scheme or form.
# Most carry the admin's real, valid token: only where and how it is sent is wrong.
PLACEMENTS: list[tuple[str, Callable[[Forge], Headers], str]] = [
    ("no-authorization", lambda f: [], ""),
    ("scheme-lower-case", lambda f: [("Authorization", f"bearer {f.world.admin.access_token}")], ""),
    ("scheme-upper-case", lambda f: [("Authorization", f"BEARER {f.world.admin.access_token}")], ""),
    ("scheme-alone", lambda f: [("Authorization", "Bearer")], ""),
    ("scheme-and-space", lambda f: [("Authorization", "Bearer ")], ""),
    ("no-scheme", lambda f: [("Authorization", f.world.admin.access_token)], ""),
    ("scheme-glued", lambda f: [("Authorization", f"Bearer{f.world.admin.access_token}")], ""),
    ("two-spaces", lambda f: [("Authorization", f"Bearer  {f.world.admin.access_token}")], ""),
    ("a-tab", lambda f: [("Authorization", f"Bearer\t{f.world.admin.access_token}")], ""),
    ("scheme-twice", lambda f: [("Authorization", f"Bearer Bearer {f.world.admin.access_token}")], ""),
    ("scheme-token", lambda f: [("Authorization", f"Token {f.world.admin.access_token}")], ""),
    ("scheme-jwt", lambda f: [("Authorization", f"JWT {f.world.admin.access_token}")], ""),
    (
        "scheme-basic",
        lambda f: [
            (
                "Authorization",
                "Basic "
                + base64.b64encode(f"{f.world.admin.username}:{f.world.admin.password}".encode()).decode(),
            )
        ],
        "",
    ),
    (
        "two-tokens-comma",
        lambda f: _bearer(f"{f.world.admin.access_token}, Bearer {f.world.admin.access_token}"),
        "",
    ),
    (
        "two-tokens-comma-no-space",
        lambda f: _bearer(f"{f.world.admin.access_token},{f.world.admin.access_token}"),
        "",
    ),
    ("two-tokens-space", lambda f: _bearer(f"{f.world.admin.access_token} {f.world.admin.access_token}"), ""),
    (
        "reader-then-admin",
        lambda f: _bearer(f"{f.world.reader.access_token} {f.world.admin.access_token}"),
        "",
    ),
    ("junk-after-the-token", lambda f: _bearer(f"{f.world.admin.access_token} x"), ""),
    (
        "non-ascii-latin-1",
        lambda f: [("Authorization", b"Bearer \xe9" + f.world.admin.access_token.encode())],
        "",
    ),
    (
        "non-ascii-utf-8",
        lambda f: [("Authorization", "Bearer ключ.".encode() + f.world.admin.access_token.encode())],
        "",
    ),
    ("query-access-token", lambda f: [], "access_token={admin}"),
    ("query-token", lambda f: [], "token={admin}"),
    ("query-authorization", lambda f: [], "Authorization=Bearer%20{admin}"),
    ("query-id-token", lambda f: [], "id_token={admin}"),
    (
        "query-and-a-forged-header",
        lambda f: _bearer(f.unsigned(f.header(alg="none"))),
        "access_token={admin}",
    ),
    ("cookie", lambda f: [("Cookie", f"access_token={f.world.admin.access_token}")], ""),
    ("x-authorization", lambda f: [("X-Authorization", f"Bearer {f.world.admin.access_token}")], ""),
    ("x-access-token", lambda f: [("X-Access-Token", f.world.admin.access_token)], ""),
    ("proxy-authorization", lambda f: [("Proxy-Authorization", f"Bearer {f.world.admin.access_token}")], ""),
]


@dataclass(frozen=True)
class Attempt:
    name: str
    headers: Callable[[Forge], Headers]
    query: str = ""

    def __str__(self) -> str:
        return self.name


ATTEMPTS = [Attempt(name, lambda f, m=make: _bearer(m(f))) for name, make in TOKENS] + [
    Attempt(*placement) for placement in PLACEMENTS
]
TARGETS = {"admin-write": ("POST", "/books"), "read": ("GET", "/users/me")}


@pytest.fixture(scope="module")
def forge(world: World) -> Forge:
    return Forge(world, int(time.time()))


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=str)
@pytest.mark.parametrize("target", TARGETS)
def test_a_forged_altered_or_misplaced_token_is_a_401(
    world: World, forge: Forge, target: str, attempt: Attempt
) -> None:
    method, path = TARGETS[target]
    sent = list(attempt.headers(forge))
    tokens = [value if isinstance(value, str) else value.decode("latin-1") for _, value in sent]
    query = attempt.query.format(admin=world.admin.access_token)
    body = BOOK if method == "POST" else None
    if body is not None:
        sent.append(("Content-Type", "application/json"))
    writable = writable_tables(method, path) if method == "POST" else ()  # a GET writes nothing
    with world.store.unchanged(writable):
        reply = send(world.url, method, path + (f"?{query}" if query else ""), body=body, headers=sent)
    assert assert_refused(reply, 401, world.secrets, *tokens) == UNAUTHORIZED


def test_control_the_admin_token_and_a_token_forged_with_the_real_key_write(
    world: World, forge: Forge
) -> None:
    for token in (world.admin.access_token, forge.real(), forge.pyjwt(forge.header())):
        reply = send(
            world.url,
            "POST",
            "/books",
            body=BOOK,
            headers=[*_bearer(token), ("Content-Type", "application/json")],
        )
        world.store.forget()
        assert reply.status == 201, reply.text
        assert send(world.url, "GET", "/users/me", headers=_bearer(token)).status == 200


def test_control_a_reader_token_reads_but_may_not_write(world: World) -> None:
    token = world.reader.access_token
    assert send(world.url, "GET", "/users/me", headers=_bearer(token)).status == 200
    with world.store.unchanged(writable_tables("POST", "/books")):
        reply = send(
            world.url,
            "POST",
            "/books",
            body=BOOK,
            headers=[*_bearer(token), ("Content-Type", "application/json")],
        )
    assert_refused(reply, 403, world.secrets)


BEARER_ROUTES = [(method, path) for method, path, _, protected in routes() if protected]
ADMIN_ROUTES = {
    (method, path.replace("*", "{id}")) for method, path, role in PROTECTED_ROUTES if role == ADMIN
}
FORBIDDEN = {"message": "User is not authorized to access this resource"}


def _route_target(world: World, path: str) -> str:
    return path.replace("{id}", world.patient_id if path.startswith("/users/") else world.book_id)


def _route_request(world: World, method: str, path: str, headers: Headers) -> Any:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    sent = [*headers, *([("Content-Type", "application/json")] if body is not None else [])]
    return send(world.url, method, _route_target(world, path), body=body, headers=sent)


@pytest.mark.parametrize("credential", ["no-token", "an-mfa-token"])
@pytest.mark.parametrize(("method", "path"), BEARER_ROUTES, ids=[f"{m} {p}" for m, p in BEARER_ROUTES])
def test_every_bearer_route_refuses_no_token_and_an_mfa_token_with_a_401(
    world: World, credential: str, method: str, path: str
) -> None:
    token = world.mfa_token() if credential == "an-mfa-token" else None
    with world.store.unchanged(writable_tables(method, path)):
        reply = _route_request(world, method, path, _bearer(token) if token else [])
    assert assert_refused(reply, 401, world.secrets, *([token] if token else [])) == UNAUTHORIZED


@pytest.mark.parametrize(
    ("method", "path"), sorted(ADMIN_ROUTES), ids=[f"{m} {p}" for m, p in sorted(ADMIN_ROUTES)]
)
def test_every_admin_route_refuses_a_reader_with_a_403(world: World, method: str, path: str) -> None:
    with world.store.unchanged(writable_tables(method, path)):
        reply = _route_request(world, method, path, _bearer(world.reader.access_token))
    assert assert_refused(reply, 403, world.secrets) == FORBIDDEN
