"""The local server's state file: its URL, moto endpoint, resources and each function's environment.

The server writes it while it runs (``.local/server-<port>.json`` unless told otherwise) and
removes it when it stops; the operator CLI and the tests read it to reach the same store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stack.template import ROOT

STATE_DIR = ROOT / ".local"
DEFAULT_PORT = 3000


def default_state_file(port: int) -> Path:
    return STATE_DIR / f"server-{port}.json"


def write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(path)


def read_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
