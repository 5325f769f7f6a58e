"""Schema versions: every spec and recipe file declares ``schema_version``.

Files written for an older version are upgraded one step at a time by registered migrations, each a
pure function on the file's plain data. A file from a newer version than this library is an error
with an upgrade hint, never a silent best effort.
"""

from __future__ import annotations

from typing import Any, Callable

from zoo.errors import Mark, SpecError, SpecIssue

CURRENT_SCHEMA_VERSION = 1

Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}  # from_version -> function producing from_version + 1


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register the upgrade from ``from_version`` to ``from_version + 1``."""

    def decorator(fn: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from schema_version {from_version} is already registered")
        MIGRATIONS[from_version] = fn
        return fn

    return decorator


def migrate(data: dict[str, Any], mark: Mark | None, current: int | None = None) -> dict[str, Any]:
    """Upgrade one file's data to the current schema version (``schema_version`` set to it)."""
    current = CURRENT_SCHEMA_VERSION if current is None else current
    version = data.get("schema_version")
    if version is None:
        raise SpecError(
            [SpecIssue("schema_version", "missing schema_version", mark, f"add 'schema_version: {current}'")]
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SpecError([SpecIssue("schema_version", f"schema_version must be an integer, got {version!r}", mark)])
    if version > current:
        raise SpecError(
            [
                SpecIssue(
                    "schema_version",
                    f"this file uses schema_version {version}, newer than this zoo supports ({current})",
                    mark,
                    "upgrade zoo: pip install -U moviegen-zoo",
                )
            ]
        )
    while version < current:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SpecError(
                [SpecIssue("schema_version", f"no migration from schema_version {version}", mark)]
            )
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data
