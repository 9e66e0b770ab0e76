"""A stand-in function for the gateway fidelity tests: answers with what it was given, and can
sleep, fail or crash on request (``?sleep=``, ``?fail=1``, ``?crash=1``, ``?cors=1``)."""

import itertools
import json
import os
import sys
import time

calls = itertools.count(1)


def lambda_handler(event: dict, context: object) -> dict:
    started = time.time()
    query = event.get("queryStringParameters") or {}
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    if "fail" in query:
        raise RuntimeError("the function failed")
    if "crash" in query:
        os._exit(3)
    headers = {"Content-Type": "application/json"}
    if "cors" in query:
        headers["Access-Control-Allow-Origin"] = "https://own.example"
    body = {
        "event": event,
        "call": next(calls),
        "pid": os.getpid(),
        "environment": dict(os.environ),
        "sys_path": sys.path,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "started": started,
        "ended": time.time(),
    }
    return {"statusCode": 200, "headers": headers, "body": json.dumps(body)}
