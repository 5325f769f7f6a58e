"""Where shipped presets and recipes live, and how a reference (name, path or URI) finds its file.

``specs/`` and ``recipes/`` at the top of the source tree are the source of truth; the wheel carries
them as package data under ``zoo/_shipped/``. A reference is resolved like timm resolves model
names: a string ending in ``.yaml``/``.yml`` or holding ``://`` is a file (local or any fsspec URI),
anything else is a name in the catalog, and a miss suggests the closest names.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from zoo.errors import UnknownNameError, ZooError

Catalog = Literal["specs", "recipes", "strategies"]
"""``specs/`` holds model presets, ``recipes/`` recipes, and ``recipes/strategies/`` strategy presets
(nodes a recipe's ``strategy:`` names; they are not recipes themselves)."""
_PACKAGE = Path(__file__).resolve().parent.parent


def catalog_dir(catalog: Catalog) -> Path:
    """The directory holding shipped files of ``catalog`` (package data, else the source tree)."""
    folder = "recipes/strategies" if catalog == "strategies" else catalog
    shipped = _PACKAGE / "_shipped" / folder
    if shipped.is_dir():
        return shipped
    return _PACKAGE.parent / folder


@lru_cache(maxsize=None)
def _index(catalog: Catalog) -> dict[str, Path]:
    root = catalog_dir(catalog)
    index: dict[str, Path] = {}
    for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
        rel = path.relative_to(root).with_suffix("")
        if catalog == "recipes" and rel.parts[0] == "strategies":
            continue  # strategy presets: their own catalog
        name = rel.name if catalog == "specs" else rel.as_posix()
        if name in index:
            raise ZooError(f"two shipped {catalog} files are named '{name}': {index[name]} and {path}")
        index[name] = path
    return index


def names(catalog: Catalog, pattern: str = "*") -> list[str]:
    """Shipped names in ``catalog`` matching a glob pattern, sorted."""
    return sorted(n for n in _index(catalog) if fnmatch.fnmatchcase(n, pattern))


def shipped_path(catalog: Catalog, name: str) -> Path:
    """The file of a shipped name; UnknownNameError with suggestions on a miss."""
    try:
        return _index(catalog)[name]
    except KeyError:
        what = {"specs": "preset", "recipes": "recipe", "strategies": "strategy preset"}[catalog]
        raise UnknownNameError(what, name, _index(catalog)) from None


@dataclass(frozen=True)
class Source:
    """A resolved reference: ``key`` identifies it (for cycle checks), ``display`` names it in errors."""

    key: str
    display: str
    path: Path | None = None  # local file, if any
    uri: str | None = None  # fsspec URI, if remote

    def read_text(self) -> str:
        try:
            if self.path is not None:
                return self.path.read_text(encoding="utf-8")
            import fsspec

            with fsspec.open(self.uri, "r", encoding="utf-8") as handle:
                return handle.read()
        except (OSError, ValueError, ImportError) as err:
            raise ZooError(f"cannot read {self.display}: {err}") from None

    @property
    def directory(self) -> str | None:
        if self.path is not None:
            return str(self.path.parent)
        return self.uri.rsplit("/", 1)[0] if self.uri and "/" in self.uri else None


def is_file_ref(ref: str) -> bool:
    """True when ``ref`` names a file rather than a catalog entry."""
    return ref.endswith((".yaml", ".yml")) or "://" in ref


def resolve(ref: str | Path, catalog: Catalog, relative_to: str | None = None) -> Source:
    """Turn a preset/recipe name, a path or a URI into a :class:`Source`."""
    if isinstance(ref, Path):
        ref = str(ref)
    if ref.startswith("file://"):
        ref = ref[len("file://") :]
    elif "://" in ref:
        return Source(key=ref, display=ref, uri=ref)
    if is_file_ref(ref):
        path = Path(ref).expanduser()
        if not path.is_absolute() and relative_to and "://" not in relative_to:
            candidate = Path(relative_to) / path
            path = candidate if candidate.exists() or not path.exists() else path
        if not path.exists():
            raise ZooError(f"no such file: {ref}")
        return Source(key=str(path.resolve()), display=_display(path), path=path)
    try:
        path = shipped_path(catalog, ref)
    except UnknownNameError:
        other: Catalog = "recipes" if catalog == "specs" else "specs"
        if ref not in _index(other):
            raise
        path = shipped_path(other, ref)  # e.g. a recipe file whose base: is a shipped recipe
    return Source(key=str(path.resolve()), display=_display(path), path=path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
