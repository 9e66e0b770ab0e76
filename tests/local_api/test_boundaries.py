"""Nothing but dev tooling depends on the local server: the product (its functions and shared
layer), the operator CLI and the product's unit tests never name local_api, and importing them
loads none of it (they stand on stock libraries; the server's patches stay the server's)."""

from __future__ import annotations

import subprocess
import sys

from stack.template import ROOT

INDEPENDENT = ("functions", "layers", "admin_cli", "tests/unit")


def test_the_product_its_cli_and_its_unit_tests_never_name_the_local_server() -> None:
    naming = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in INDEPENDENT
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if "local_api" in line
    ]
    assert naming == []


def test_importing_them_loads_none_of_the_local_server() -> None:
    modules = [
        "admin_cli.cli",
        *(f"tests.unit.{path.stem}" for path in sorted((ROOT / "tests/unit").glob("*.py"))),
    ]
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, sys\n"
            f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'layers/shared/python')!r}]\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'local_api'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert loaded.strip() == "[]"
