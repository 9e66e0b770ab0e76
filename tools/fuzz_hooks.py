"""schemathesis hooks for `make fuzz`, loaded by tools/fuzz.toml: the generators of
tools/fuzz_formats.py for the formats docs/openapi.json names; and, before each call, the values
only the server can make put in place of drawn ones: a list's own next_token where another list's
was drawn or carried over, and a live MFA token in half the POST /auth/mfa bodies (a new one
after a sign-in spent it).
"""

from typing import Any

import schemathesis

from tools.fuzz_formats import MfaTokens, PageTokens, formats, takes_mfa_token

for name, strategy in formats().items():
    schemathesis.openapi.format(name, strategy)

MFA_TOKENS = MfaTokens.from_env()
PAGE_TOKENS = PageTokens.from_env()
LISTS = ("/books", "/users")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    if isinstance(case.query, dict) and "next_token" in case.query:
        case.query["next_token"] = PAGE_TOKENS.for_path(path, case.query["next_token"])
    body = case.body
    if (
        path == "/auth/mfa"
        and MFA_TOKENS
        and isinstance(body, dict)
        and takes_mfa_token(body.get("mfa_token"))
    ):
        body["mfa_token"] = MFA_TOKENS.token()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    path = case.operation.path
    if path in LISTS and case.method == "GET" and response.status_code == 200:
        PAGE_TOKENS.record(path, response.json())
    if path == "/auth/mfa" and MFA_TOKENS is not None and response.status_code == 200:
        MFA_TOKENS.spent()
