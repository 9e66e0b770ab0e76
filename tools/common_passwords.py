"""Writes the common-password list the shared layer bundles, from zxcvbn's frequency list (MIT).

    .venv/bin/python tools/common_passwords.py

tests/unit/test_passwords.py checks that the bundled file is exactly what this writes.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

TARGET = Path(__file__).resolve().parents[1] / "layers/shared/python/books_api/data/common-passwords.txt.gz"


def render() -> bytes:
    text = "\n".join(FREQUENCY_LISTS["passwords"]) + "\n"
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


if __name__ == "__main__":
    TARGET.write_bytes(render())
    print(f"wrote {len(FREQUENCY_LISTS['passwords'])} passwords to {TARGET}")
