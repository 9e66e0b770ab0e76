"""One Lambda function's warm execution environment: imports the handler once, then runs one
invocation at a time, as the Lambda runtime does.

Started by ``local_api.runtime`` as ``python -I worker.py REQUEST_FD RESPONSE_FD HANDLER LAYER...``
in the function's code folder, with exactly the function's environment. ``-I`` keeps this
folder, the repository and the caller's ``PYTHON*`` variables off ``sys.path``: the function
sees its code folder, then its layers, then the installed third-party packages, like
``/var/task``, ``/opt/python`` and the runtime's own packages on Lambda. Standard library only.

The protocol is one JSON object a line over two pipes. The worker first writes
``{"ready": true}`` (or ``{"error": ...}`` and exits when the handler cannot be imported), then
answers each ``{"request_id", "deadline_ms", "event"}`` with ``{"result": ...}`` or
``{"error": {"errorType", "errorMessage"}}``, the payload Lambda's Invoke API gives for a
function error. The function's own output (its logs) goes to the inherited stdout and stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from typing import Any


class LambdaContext:
    """The context object the Lambda runtime passes to a Python handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = (
            f"arn:aws:lambda:{env['AWS_REGION']}:{env.get('AWS_ACCOUNT_ID', '123456789012')}"
            f":function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {"error": {"errorType": error_type or type(error).__name__, "errorMessage": str(error)}}


def _log_error(payload: dict[str, Any]) -> None:
    """One line on stderr, as the runtime logs an unhandled error (without the stack trace)."""
    error = payload["error"]
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr, flush=True)


def _load(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _invoke(handler: Any, request: dict[str, Any]) -> bytes:
    context = LambdaContext(request["request_id"], request["deadline_ms"])
    try:
        result = handler(request["event"], context)
    except Exception as error:  # a function error is the invocation's answer, as on Lambda
        payload = _error(error)
    else:
        try:
            return json.dumps({"result": result}, separators=(",", ":")).encode()
        except (TypeError, ValueError) as error:
            payload = _error(error, "Runtime.MarshalError")
    _log_error(payload)
    return json.dumps(payload).encode()


def serve(requests: Any, responses: Any, handler_name: str) -> None:
    def send(message: bytes) -> None:
        responses.write(message + b"\n")
        responses.flush()

    try:
        handler = _load(handler_name)
    except Exception as error:  # the runtime reports any init failure the same way
        payload = _error(error, "Runtime.ImportModuleError")
        _log_error(payload)
        send(json.dumps(payload).encode())
        return
    send(b'{"ready":true}')
    for line in requests:
        send(_invoke(handler, json.loads(line)))


def main() -> None:
    request_fd, response_fd, handler_name, *layers = sys.argv[1:]
    # The server owns the terminal's Ctrl-C and stops this process by closing its request pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.reconfigure(line_buffering=True)
    sys.path[:0] = [os.getcwd(), *layers]
    with os.fdopen(int(request_fd), "rb") as requests, os.fdopen(int(response_fd), "wb") as responses:
        serve(requests, responses, handler_name)
    # Like a Lambda sandbox, end without tearing the interpreter down (it takes longer than the work).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
