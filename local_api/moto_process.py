"""moto's server (``moto.server.ThreadedMotoServer``, patched by ``local_api.moto_patches``) in a
process of its own, as ``python -m local_api`` runs it.

In the gateway's process, moto's request threads and the gateway's shared one interpreter lock,
so on this machine the two together were bound to one core, and moto, most of a request's work
(docs/PERFORMANCE.md, "The local server under load"), waited for the gateway's threads and they
for it. In its own process it has its own lock, as DynamoDB is a service of its own. Its
DynamoDB requests are still applied one at a time (moto_patches' lock, in this process).

    python -m local_api.moto_process HOST PORT

writes the port it listens on (PORT may be 0) as one line to stdout, and serves until its stdin
closes, which happens when the server that started it stops, or dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import IO

from stack.template import ROOT

STOP_TIMEOUT_SECONDS = 5.0


class MotoProcess:
    """``ThreadedMotoServer``'s ``start``, ``get_host_and_port`` and ``stop``, for a child process."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        self._ip_address = ip_address
        self._port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [sys.executable, "-m", "local_api.moto_process", self._ip_address, str(self._port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.process.stdout.close()
        if not line.strip().isdigit():
            self.stop()
            raise SystemExit(f"moto's server did not start on {self._ip_address}:{self._port} (see above)")
        self._port = int(line)

    def get_host_and_port(self) -> tuple[str, int]:
        assert self.process is not None, "Make sure to call start() first"
        return self._ip_address, self._port

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(host: str, port: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - after the import of the patches

    from local_api import moto_patches  # noqa: PLC0415

    moto_patches.install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    if not moto_patches.started(server):
        stdout.close()  # the server reads no port, and says so
        return
    stdout.write(f"{server.get_host_and_port()[1]}\n".encode())
    stdout.flush()
    stdout.close()
    try:
        stdin.read()  # until the server closes it, or exits
    finally:
        server.stop()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # The server owns the terminal's Ctrl-C and stops this process by closing its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reply = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything moto prints goes with the server's log
    serve(host, port, sys.stdin.buffer, reply)


if __name__ == "__main__":
    main()
