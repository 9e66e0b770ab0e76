"""A stand-in authorizer for the gateway fidelity tests: the bearer token says what it does."""

import itertools

calls = itertools.count(1)


def _policy(event: dict, statements: list[tuple[str, str]], context: dict) -> dict:
    prefix = event["methodArn"].split("/", 1)[0]  # arn:aws:execute-api:region:account:api-id
    stage = event["methodArn"].split("/")[1]
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": f"{prefix}/{stage}/{route}"}
                for effect, route in statements
            ],
        },
        "context": context,
    }


def lambda_handler(event: dict, context: object) -> dict:
    token = event["authorizationToken"].removeprefix("Bearer ")
    call = next(calls)
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "broken":
        raise ValueError("the authorizer has a bug")
    if token == "no-policy":
        return {"principalId": "user-1"}
    if token == "nested-context":
        return _policy(event, [("Allow", "*")], {"nested": {"a": 1}})
    if token == "deny-writes":
        return _policy(event, [("Allow", "*"), ("Deny", "POST/*"), ("Deny", "POST/books")], {})
    if token == "only-get":
        return _policy(event, [("Allow", "GET/*")], {})
    return _policy(
        event, [("Allow", "*")], {"username": "u1", "count": 3, "admin": False, "ratio": 1.5, "call": call}
    )
