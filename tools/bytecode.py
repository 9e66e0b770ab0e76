"""CPython 3.13 bytecode for what ``sam build`` built, without python3.13 on the build host.

On Lambda ``/opt`` and ``/var/task`` cannot be written, so a layer or function without bytecode
has its modules compiled again at every cold start: about 300 ms of each API function's here
(docs/PERFORMANCE.md). Bytecode is the interpreter's own format, different in every minor
version, so pip's (made for the build host's Python) is removed and this host's 3.11 cannot make
3.13's. Pyodide can: it is CPython 3.13 built for WebAssembly, pinned in tools/pyodide (npm),
run by Node.js. Each ``.py`` of every built layer and function gets its
``__pycache__/<name>.cpython-313.pyc``, an unchecked-hash one (loaded without comparing the
source's modification time, which the layer's zip does not keep exactly). A Lambda runtime of
another minor version finds no file of its own tag and compiles the source, as without this.

    python -m tools.bytecode [BUILD_DIR]      # default .aws-sam/build; `make build` runs it
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYODIDE = ROOT / "tools" / "pyodide"
LAMBDA_CACHE_TAG = "cpython-313"
# CPython 3.13's magic number (importlib.util.MAGIC_NUMBER there), and the flags of an
# unchecked-hash .pyc (PEP 552: hash-based, not checked against the source).
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH_FLAGS = 0b01


def lambda_pyc(source: Path) -> Path:
    """Where Lambda's python3.13 looks for the bytecode of ``source``."""
    return source.parent / "__pycache__" / f"{source.stem}.{LAMBDA_CACHE_TAG}.pyc"


def is_lambda_bytecode(pyc: Path) -> bool:
    header = pyc.read_bytes()[:8]
    return header[:4] == MAGIC_313 and int.from_bytes(header[4:8], "little") == UNCHECKED_HASH_FLAGS


def code_folders(build_dir: Path) -> list[Path]:
    """The folders Lambda imports from: each layer's ``python`` and each function's artifact."""
    folders = []
    for entry in sorted(build_dir.iterdir()):
        if (entry / "python").is_dir():
            folders.append(entry / "python")
        elif entry.is_dir() and any(entry.glob("*.py")):
            folders.append(entry)
    return folders


def compile_build(build_dir: Path) -> int:
    """Compile every source of ``build_dir``; the number of .pyc files written."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("tools/bytecode.py needs Node.js (node) to run Pyodide")
    if not (PYODIDE / "node_modules" / "pyodide").is_dir():
        raise SystemExit(f"Pyodide is not installed: npm ci --prefix {PYODIDE}")
    folders = code_folders(build_dir.resolve())  # node runs in tools/pyodide
    done = subprocess.run(  # noqa: S603 - node and our script, on our folders
        [node, str(PYODIDE / "compile.mjs"), *map(str, folders)],
        cwd=PYODIDE,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"compiling to bytecode failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    version = json.loads(done.stdout.strip().splitlines()[-1])["version"]
    if version[:2] != [3, 13]:
        raise SystemExit(f"Pyodide runs Python {version}, not 3.13: Lambda could not use its bytecode")
    sources = [source for folder in folders for source in folder.rglob("*.py")]
    missing = [source for source in sources if not lambda_pyc(source).is_file()]
    if missing:
        raise SystemExit(f"no bytecode for {len(missing)} sources, e.g. {missing[0]}")
    return len(sources)


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0]) if argv else ROOT / ".aws-sam" / "build"
    count = compile_build(build_dir)
    print(f"{count} modules compiled to CPython 3.13 bytecode in {build_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
