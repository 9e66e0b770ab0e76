"""The operator CLI: create a user with a role (the first admin), reset a password, list, disable,
enable, re-role, delete users and reset their multi-factor sign-in, migrate a users table of an
older stack, rotate the signing key; in the local server's store or a deployed stack's. Run
``python -m admin_cli --help``.

It finds the local server through the state file the server writes (docs/LOCAL.md, "The state
file"), never by importing the server.
"""

from pathlib import Path

from stack.template import ROOT

# Accounts are made with the settings of the function that makes them (table, bcrypt cost...).
ACCOUNTS_FUNCTION = "SignupFunction"
# Users are administered with the settings of the function that administers them for admins.
USERS_FUNCTION = "UsersFunction"
DEFAULT_PORT = 3000  # the local server's


def default_state_file(port: int) -> Path:
    """Where the local server serving on ``port`` (or moto started alone on it) keeps its state."""
    return ROOT / ".local" / f"server-{port}.json"
