"""``migrate-users``: bring a users table written before user administration to today's shape.

Items written before then lack the constant that puts a user in the ``Directory`` index
(``directory``) and the state a listing shows (``disabled``, ``mfa_enabled``), and the table has
no count of the enabled admins, which keeps the last one from going. This is an operator's one-off,
never an API request: one Scan of the table (strongly consistent, page by page), one Update per item
that lacks any of those, and the count set to the enabled admins found.

- Each Update is conditional on the item still existing (one deleted since the Scan stays deleted:
  no half item appears in the directory) and sets only what is still missing (``if_not_exists``),
  so what the API wrote meanwhile stands.
- The count is read before the Scan and written after it only if still the one read: an admin
  change committed before the read is in what the Scan sees; one committed after it changed the
  count, and the migration then asks to be run again rather than overwrite it.
- Run again, it changes nothing. The Scan reads no password hash or factor (a projection).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from books_api.dal import ConditionFailed, from_attributes, placeholders, to_attributes
from books_api.errors import Conflict
from books_api.permissions import ADMIN
from books_api.users import ADMIN_COUNT_KEY, DIRECTORY, UserRepository

# What an item written before lacks, and the value it gets (no user was disabled or had a factor).
DEFAULTS: dict[str, Any] = {"directory": DIRECTORY, "disabled": False, "mfa_enabled": False}
_READ = ("username", "roles", *DEFAULTS)
_NAMES = {f"#a{index}": name for index, name in enumerate(_READ)}
_NAME_OF = {name: alias for alias, name in _NAMES.items()}


@dataclass
class Migration:
    """What a migration did: the attributes it added to each user, the users deleted between the
    Scan and their update (left alone), and the count of enabled admins before and after."""

    users: int = 0
    updated: dict[str, list[str]] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    admins_before: int | None = None
    admins: int = 0

    def report(self) -> dict[str, Any]:
        return {
            "users_scanned": self.users,
            "updated": self.updated,
            "deleted_meanwhile": self.gone,
            "enabled_admins": {"before": self.admins_before, "after": self.admins},
        }


def _scan(users: UserRepository) -> Iterator[dict[str, Any]]:
    """Every item of the table, as the projection reads it: one Scan, page by page."""
    request: dict[str, Any] = {
        "ConsistentRead": True,
        "ProjectionExpression": ", ".join(_NAMES),
        "ExpressionAttributeNames": _NAMES,
    }
    while True:
        response = users.call("scan", **request)
        yield from (from_attributes(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _complete(users: UserRepository, username: str, missing: list[str]) -> bool:
    """Add the ``missing`` attributes to ``username``'s item, if it still exists."""
    names = {_NAME_OF[name]: name for name in ["username", *missing]}
    setting = ", ".join(f"{_NAME_OF[name]} = if_not_exists({_NAME_OF[name]}, :{name})" for name in missing)
    try:
        users.call(
            "update_item",
            Key=to_attributes(users.key(username)),
            UpdateExpression=f"SET {setting}",
            ConditionExpression=f"attribute_exists({_NAME_OF['username']})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=placeholders(**{name: DEFAULTS[name] for name in missing}),
        )
    except ConditionFailed:
        return False
    return True


def _set_count(users: UserRepository, admins: int, *, before: int | None) -> None:
    condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(username)"}
        if before is None
        else {
            "ConditionExpression": "admins = :before",
            "ExpressionAttributeValues": placeholders(before=before),
        }
    )
    try:
        users.call(
            "put_item", Item=to_attributes({**users.key(ADMIN_COUNT_KEY), "admins": admins}), **condition
        )
    except ConditionFailed:
        raise Conflict("The enabled admins changed during the migration: run migrate-users again") from None


def migrate_users(users: UserRepository) -> Migration:
    """Give every user item what it lacks, then count the enabled admins (see the module)."""
    counted = users.read(users.key(ADMIN_COUNT_KEY))
    done = Migration(admins_before=counted.get("admins") if counted else None)
    for item in _scan(users):
        username = item["username"]
        if username == ADMIN_COUNT_KEY:
            continue
        missing = [name for name in DEFAULTS if name not in item]
        if missing and not _complete(users, username, missing):
            done.gone.append(username)
            continue
        if missing:
            done.updated[username] = missing
        done.users += 1
        # As User.enabled_admin, on what the Scan read (a missing ``disabled`` is now false).
        if ADMIN in item.get("roles", ()) and not item.get("disabled", False):
            done.admins += 1
    if done.admins != done.admins_before:
        _set_count(users, done.admins, before=done.admins_before)
    return done
