import sys

from admin_cli import ACCOUNTS_FUNCTION
from stack.template import layer_python_dirs


def run() -> None:
    # The domain code comes from the shared layer, put on the path as Lambda mounts it.
    sys.path[:0] = [str(path) for path in layer_python_dirs(ACCOUNTS_FUNCTION)]
    from admin_cli.cli import main  # noqa: PLC0415 - importable once the layer is on the path

    sys.exit(main())


run()
