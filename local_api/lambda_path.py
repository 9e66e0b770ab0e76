"""Lambda's ``sys.path`` for a function, reproduced on this host from ``sam build``'s output.

On Lambda a Python function sees its code (``/var/task``), its layers' ``python/`` folders
(``/opt/python``), the packages the runtime itself provides (boto3 and its dependencies) and the
standard library: nothing else. ``LambdaPath`` lays that out in a folder, so a fresh interpreter
started with ``-I -S`` and these folders first on its path imports exactly what the function
would on Lambda, no more:

- the function's artifact and the shared layer, as built;
- the dependency layer as built for arm64 (the template's default), except its binary modules,
  which are Lambda's (arm64, python3.13) and cannot load here: each is replaced by this host's
  build of the same version, from the installed packages (pinned alike);
- boto3, botocore and the rest of what the runtime provides, from the installed packages;
- where the build holds Lambda's bytecode (``tools/bytecode.py``: CPython 3.13's), this host's
  bytecode of the same source in its place, as for the binary modules.

Nothing in it can be written (as ``/opt`` and ``/var/task``) and it holds no bytecode but that, so
a module the build did not compile is compiled again at every cold start, as on Lambda. A process
started as root writes through those permissions: an interpreter sampling cold starts must also
be told not to write bytecode (``-B``), or the first sample would cache it for the rest.
The build tests (tests/build) and the cold-start benchmark (bench/) use it.
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import re
import shutil
import stat
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stack.template import ROOT, functions, layer_ids
from tools.bytecode import lambda_pyc

BUILD_DIR = ROOT / ".aws-sam" / "build"
# What the Lambda python3.13 runtime provides besides the standard library (its bundled AWS SDK).
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
LAMBDA_BINARY = re.compile(r"^(?P<stem>[^.]+)\.(?:cpython-313-(?:aarch64|x86_64)-linux-gnu|abi3)\.so$")
ELF_MACHINE_AARCH64 = 183
ELF_MACHINE_X86_64 = 62


_NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def site_packages() -> Path:
    """Where this interpreter's third-party packages are installed."""
    return Path(sysconfig.get_paths()["purelib"])


def _top_level(distribution: str) -> set[str]:
    """The top-level files and folders an installed distribution put in site-packages."""
    names = set()
    for file in metadata.distribution(distribution).files or ():
        first = file.parts[0]
        if first != ".." and not first.endswith((".dist-info", ".data")) and first != "__pycache__":
            names.add(first)
    return names


def elf_machine(path: Path) -> int:
    """The ELF ``e_machine`` of a shared object (183 is aarch64, 62 x86-64)."""
    header = path.read_bytes()[:20]
    return int.from_bytes(header[18:20], "little")


def lambda_binaries(layer: Path) -> list[Path]:
    """The binary modules in a built layer (Lambda's: for python3.13 on arm64 or x86_64, or abi3)."""
    return sorted(path for path in layer.rglob("*.so") if LAMBDA_BINARY.match(path.name))


def _host_binary(lambda_binary: Path, layer: Path) -> Path:
    relative = lambda_binary.relative_to(layer)
    stem = LAMBDA_BINARY.match(lambda_binary.name)["stem"]  # type: ignore[index]
    folder = site_packages() / relative.parent
    found = sorted(folder.glob(f"{stem}.*.so"))
    if not found:
        raise FileNotFoundError(f"no host build of {relative} in {folder}")
    return found[0]


def _host_bytecode(built: Path, copy: Path) -> None:
    """This host's bytecode in ``copy`` for each source of ``built`` that has Lambda's."""
    for source in built.rglob("*.py"):
        if lambda_pyc(source).is_file():
            target = copy / source.relative_to(built)
            py_compile.compile(
                str(target),
                cfile=importlib.util.cache_from_source(str(target)),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


@dataclass(frozen=True)
class LambdaPath:
    """The folders of a function's ``sys.path`` on Lambda, laid out under ``root``."""

    root: Path

    @property
    def layers(self) -> Path:
        return self.root / "opt" / "python"

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    def task(self, function: str) -> Path:
        return self.root / "task" / function

    def sys_path(self, function: str) -> list[str]:
        return [str(self.task(function)), str(self.layers), str(self.runtime)]

    @classmethod
    def create(cls, root: Path, *, build_dir: Path = BUILD_DIR, layers: tuple[str, ...] = ()) -> LambdaPath:
        """Lay out ``build_dir`` (sam build's output): every function, and ``layers`` (default: those
        the template's defaults give the functions) merged into one ``/opt/python`` as Lambda
        merges them."""
        layers = layers or tuple(dict.fromkeys(layer for name in functions() for layer in layer_ids(name)))
        path = cls(root)
        if root.exists():
            path.remove()
        root.mkdir(parents=True)
        built = [entry for entry in build_dir.iterdir() if entry.is_dir()]
        layer_dirs = [entry for entry in built if (entry / "python").is_dir() and entry.name in layers]
        for layer in layer_dirs:
            shutil.copytree(layer / "python", path.layers, dirs_exist_ok=True, ignore=_NO_BYTECODE)
            for binary in lambda_binaries(layer / "python"):
                target = path.layers / binary.relative_to(layer / "python")
                target.unlink()
                shutil.copy2(_host_binary(binary, layer / "python"), target.parent)
        for function in built:
            if function not in layer_dirs and (function / "app.py").exists():
                shutil.copytree(function, path.task(function.name), ignore=_NO_BYTECODE)
                _host_bytecode(function, path.task(function.name))
        for layer in layer_dirs:
            _host_bytecode(layer / "python", path.layers)
        path.runtime.mkdir()
        site = site_packages()
        for distribution in RUNTIME_DISTRIBUTIONS:
            for name in _top_level(distribution):
                (path.runtime / name).symlink_to(site / name)
        for folder in (path.root / "opt", path.root / "task"):
            if folder.exists():
                _read_only(folder)
        return path

    def remove(self) -> None:
        for path in [self.root, *self.root.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(stat.S_IRWXU)
        shutil.rmtree(self.root)


def standard_library() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib")})
