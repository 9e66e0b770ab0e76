"""What a million requests cost on AWS: the model in docs/PERFORMANCE.md, prices and assumptions here.

    .venv/bin/python bench/cost_model.py

List prices for us-east-1, taken as of PRICES_AS_OF (check the pricing pages before relying on
them: this machine cannot reach them). A month is 30 days. Prints Markdown tables.
"""

from __future__ import annotations

import math

PRICES_AS_OF = "2026-11-25"
SECONDS_PER_MONTH = 30 * 24 * 3600

# API Gateway REST API, per million requests, by monthly volume tier.
API_GATEWAY_REST = ((333e6, 3.50), (667e6, 2.80), (19e9, 2.38), (math.inf, 1.51))
# Lambda on arm64: per million requests, and per GB-second by monthly tier. The INIT phase of a
# cold start is billed like the invocation (since 1 August 2025).
LAMBDA_REQUESTS = 0.20
LAMBDA_ARM64_GB_SECOND = ((7.5e9, 0.0000133334), (11.25e9, 0.0000120001), (math.inf, 0.0000106667))
# DynamoDB on-demand (Standard table class), per million request units.
DYNAMODB_READ_UNIT = 0.125
DYNAMODB_WRITE_UNIT = 0.625
# Secrets Manager: per secret and month, and per 10,000 API calls. The Parameters and Secrets
# Lambda Extension itself costs nothing: it runs in the function's memory and time.
SECRETS_MANAGER_SECRET_MONTH = 0.40
SECRETS_MANAGER_PER_10K_CALLS = 0.05

# The request priced: an authorized GET /books (a 20-book page).
BOOKS_MEMORY_GB = 512 / 1024
BOOKS_BILLED_SECONDS = 0.020  # a DynamoDB Query and the response, at 512 MB (about 0.29 vCPU)
AUTHORIZER_MEMORY_GB = 512 / 1024
AUTHORIZER_BILLED_SECONDS = 0.002  # 0.1 ms of one x86 core here (bench), 1 ms billing steps
# Four shards: 4.14 Queries a page on average, each under 4 KB of a GSI, 0.5 (bench/pagination.py).
PAGE_READ_UNITS = 2.07
STRICT_READ_UNITS = 2.0  # strict revocation: two strongly consistent items under 4 KB per authorization
SECRETS = 2  # the signing key and the page-token key
KEY_CACHE_SECONDS = 300  # KeyCacheSeconds: each warm environment reads each key once per period
# The login priced: bcrypt cost 12 at 1769 MB (one vCPU), about 270 ms, plus its two requests.
LOGIN_MEMORY_GB = 1769 / 1024
LOGIN_BILLED_SECONDS = 0.300
LOGIN_READ_UNITS = 1.0  # GetItem of the user, strongly consistent
# The lockout's admission (one Update) and its reset (one Delete), then TransactWriteItems:
# family, refresh token and the check that the user is unchanged, 2 units each in a transaction.
LOGIN_WRITE_UNITS = 1.0 + 1.0 + 6.0
# A login with multi-factor sign-in on is two requests to the login function.
# POST /auth/login: admission, GetItem of the user, bcrypt, reset, and a Put of the MFA token.
MFA_PASSWORD_READ_UNITS = 1.0
MFA_PASSWORD_WRITE_UNITS = 1.0 + 1.0 + 1.0
# POST /auth/mfa: GetItem of the MFA token and of the user (strongly consistent), the MFA
# lockout's admission and reset, one KMS Decrypt of the TOTP secret, and TransactWriteItems:
# the code spent on the user's item, the MFA token deleted, family and refresh token (2 units each).
MFA_CODE_READ_UNITS = 2.0
MFA_CODE_WRITE_UNITS = 1.0 + 1.0 + 8.0
MFA_CODE_BILLED_SECONDS = 0.040  # no bcrypt: two reads, a KMS call and a transaction
KMS_PER_10K_REQUESTS = 0.03  # symmetric Decrypt
KMS_KEY_MONTH = 1.00  # the MFA key (its automatic rotation adds $1 a month for each of the first two)
# AWS WAF (WafEnabled): per web ACL and per rule (the rate-based rule and two managed rule
# groups) a month, and per million requests inspected. AWS's baseline managed rule groups add no
# fee of their own; the two use about 900 of the 1,500 capacity units the base price includes.
WAF_WEB_ACL_MONTH = 5.00
WAF_RULE_MONTH = 1.00
WAF_RULES = 3
WAF_PER_MILLION = 0.60

RATES = (100, 1_000, 10_000)
HIT_RATES = (0.0, 0.9, 0.99)


def tiered(tiers: tuple[tuple[float, float], ...], volume: float) -> float:
    """Average price per unit of ``volume`` units in a month, through volume tiers."""
    left, total = volume, 0.0
    for size, price in tiers:
        used = min(left, size)
        total += used * price
        left -= used
        if left <= 0:
            break
    return total / volume


def per_million_books(rate: float, hit_rate: float, *, strict: bool = False) -> dict[str, float]:
    """Dollars per million GET /books at ``rate`` requests a second, with an authorizer cache hit rate."""
    monthly = rate * SECONDS_PER_MONTH
    authorizations = 1e6 * (1 - hit_rate)
    books_gb_seconds = 1e6 * BOOKS_MEMORY_GB * BOOKS_BILLED_SECONDS
    authorizer_gb_seconds = authorizations * AUTHORIZER_MEMORY_GB * AUTHORIZER_BILLED_SECONDS
    monthly_gb_seconds = (books_gb_seconds + authorizer_gb_seconds) * monthly / 1e6
    gb_second = tiered(LAMBDA_ARM64_GB_SECOND, monthly_gb_seconds)
    # Warm environments: each function's concurrency, at least one; each reads each key per period.
    environments = max(1.0, rate * BOOKS_BILLED_SECONDS) + max(
        1.0, rate * (1 - hit_rate) * AUTHORIZER_BILLED_SECONDS
    )
    calls = environments * (1e6 / rate) / KEY_CACHE_SECONDS
    return {
        "api": tiered(API_GATEWAY_REST, monthly),
        "books": LAMBDA_REQUESTS + books_gb_seconds * gb_second,
        "authorizer": authorizations / 1e6 * LAMBDA_REQUESTS + authorizer_gb_seconds * gb_second,
        "dynamodb": (PAGE_READ_UNITS + (STRICT_READ_UNITS if strict else 0.0)) * DYNAMODB_READ_UNIT,
        "secrets": calls / 1e4 * SECRETS_MANAGER_PER_10K_CALLS
        + SECRETS * SECRETS_MANAGER_SECRET_MONTH * 1e6 / monthly,
    }


def per_million_logins() -> dict[str, float]:
    gb_seconds = 1e6 * LOGIN_MEMORY_GB * LOGIN_BILLED_SECONDS
    return {
        "api": API_GATEWAY_REST[0][1],
        "login": LAMBDA_REQUESTS + gb_seconds * LAMBDA_ARM64_GB_SECOND[0][1],
        "dynamodb": LOGIN_READ_UNITS * DYNAMODB_READ_UNIT + LOGIN_WRITE_UNITS * DYNAMODB_WRITE_UNIT,
    }


def per_million_mfa_logins() -> dict[str, float]:
    """Both requests of a million logins with multi-factor sign-in on (a TOTP or recovery code)."""
    gb_seconds = 1e6 * LOGIN_MEMORY_GB * (LOGIN_BILLED_SECONDS + MFA_CODE_BILLED_SECONDS)
    read_units = MFA_PASSWORD_READ_UNITS + MFA_CODE_READ_UNITS
    write_units = MFA_PASSWORD_WRITE_UNITS + MFA_CODE_WRITE_UNITS
    return {
        "api": 2 * API_GATEWAY_REST[0][1],
        "login": 2 * LAMBDA_REQUESTS + gb_seconds * LAMBDA_ARM64_GB_SECOND[0][1],
        "dynamodb": read_units * DYNAMODB_READ_UNIT + write_units * DYNAMODB_WRITE_UNIT,
        "kms": 1e6 / 1e4 * KMS_PER_10K_REQUESTS,
    }


def waf_per_million(rate: float) -> float:
    """Dollars per million requests for the WAF at ``rate`` requests a second (fixed part spread)."""
    monthly = rate * SECONDS_PER_MONTH
    return WAF_PER_MILLION + (WAF_WEB_ACL_MONTH + WAF_RULES * WAF_RULE_MONTH) * 1e6 / monthly


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def main() -> None:
    print(f"Per million authorized GET /books, authorizer cache hit rate 0.9 (us-east-1, {PRICES_AS_OF}):\n")
    columns = ("requests/s", "requests/month", "API Gateway", "books function", "authorizer", "DynamoDB")
    print("| " + " | ".join([*columns, "Secrets Manager", "total"]) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in RATES:
        costs = per_million_books(rate, 0.9)
        cells = [_money(costs[key]) for key in ("api", "books", "authorizer", "dynamodb", "secrets")]
        monthly = rate * SECONDS_PER_MONTH
        print(
            f"| {rate:,} | {monthly / 1e6:,.0f} M | "
            + " | ".join(cells)
            + f" | {_money(sum(costs.values()))} |"
        )
    print("\nTotal per million GET /books by authorizer cache hit rate (0: cache off):\n")
    print("| requests/s | " + " | ".join(f"hit rate {hit}" for hit in HIT_RATES) + " | strict revocation |")
    print("|---|" + "---|" * (len(HIT_RATES) + 1))
    for rate in RATES:
        totals = [sum(per_million_books(rate, hit).values()) for hit in HIT_RATES]
        strict = sum(per_million_books(rate, 0.0, strict=True).values())
        print(f"| {rate:,} | " + " | ".join(_money(total) for total in totals) + f" | {_money(strict)} |")
    logins = per_million_logins()
    print(
        "\nPer million logins (bcrypt cost 12 at 1769 MB, first API Gateway tier): "
        + ", ".join(f"{key} {_money(value)}" for key, value in logins.items())
        + f"; total {_money(sum(logins.values()))}."
    )
    mfa_logins = per_million_mfa_logins()
    print(
        "\nPer million logins with multi-factor sign-in (two requests, one KMS Decrypt each): "
        + ", ".join(f"{key} {_money(value)}" for key, value in mfa_logins.items())
        + f"; total {_money(sum(mfa_logins.values()))}, and {_money(KMS_KEY_MONTH)} a month for the key."
    )
    fixed = WAF_WEB_ACL_MONTH + WAF_RULES * WAF_RULE_MONTH
    print(
        f"\nWith WafEnabled: {_money(fixed)} a month and {_money(WAF_PER_MILLION)} per million requests; "
        + "per million "
        + ", ".join(f"at {rate:,} requests/s {_money(waf_per_million(rate))}" for rate in RATES)
        + "."
    )


if __name__ == "__main__":
    main()
