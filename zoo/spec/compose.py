"""Composition: ``base:`` chains, ``--set`` layers and command-line overrides, merged in one order.

Lowest to highest: entry defaults (applied at validation) < the ``base:`` chain (preset names or
paths, merged in order) < the file itself < each ``--set`` layer < command-line overrides
(``a.b=1`` sets, ``~a.b`` deletes, ``a.list+=x`` appends).

Merging is deep for mappings; lists and scalars are replaced. A mapping holding ``_replace_: true``
replaces instead of merging. When a layer changes a node's ``type:``, the node is reset: only the
keys written in that same layer are kept, and a warning names the keys that were dropped (so a
swapped component never inherits its predecessor's parameters).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from zoo.errors import Mark, SpecError, SpecIssue, closest
from zoo.spec.catalog import Catalog, Source, resolve
from zoo.spec.migrations import migrate
from zoo.spec.yaml_io import Marks, Path, load_yaml

REPLACE_KEY = "_replace_"

PRESET_NODES: dict[str, Catalog] = {"strategy": "strategies"}
"""Top-level recipe keys whose value may name a preset node (``strategy: h100-8x8``); the name is
expanded into the preset's mapping before overrides descend into it (``strategy.cp=2``)."""


class SpecWarning(UserWarning):
    """A spec composed, but something in it deserves the user's attention (e.g. dropped keys)."""


@dataclass
class Composed:
    """The merged data of a spec or recipe, with where each key came from."""

    data: dict[str, Any]
    marks: Marks
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path)


# -- merging ------------------------------------------------------------------------------------
def merge(lower: Any, upper: Any, path: Path = (), notes: list[str] | None = None) -> Any:
    """Deep-merge ``upper`` over ``lower`` (neither is modified) with type-swap semantics."""
    notes = notes if notes is not None else []
    if isinstance(upper, dict) and upper.get(REPLACE_KEY) is True:
        return {k: copy.deepcopy(v) for k, v in upper.items() if k != REPLACE_KEY}
    if not (isinstance(lower, dict) and isinstance(upper, dict)):
        return copy.deepcopy(upper)
    if "type" in upper and "type" in lower and upper["type"] != lower["type"]:
        dropped = sorted(str(k) for k in lower if k not in upper and k != "type")
        if dropped:
            notes.append(
                f"{_dotted(path) or '<root>'}: type changed '{lower['type']}' -> '{upper['type']}'; "
                f"dropped keys of the old type: {', '.join(dropped)}"
            )
        return {k: copy.deepcopy(v) for k, v in upper.items() if k != REPLACE_KEY}
    out = {k: copy.deepcopy(v) for k, v in lower.items()}
    for key, value in upper.items():
        out[key] = merge(lower.get(key), value, (*path, key), notes) if key in lower else copy.deepcopy(value)
    return out


def _prefixed(marks: Marks, prefix: Path) -> Marks:
    return {(*prefix, *p): m for p, m in marks.items() if p or not prefix}


# -- files and base chains ----------------------------------------------------------------------
def load_document(
    ref: str | Any, catalog: Catalog, *, relative_to: str | None = None, _stack: tuple[str, ...] = ()
) -> Composed:
    """Load one file and its ``base:`` chain, merged, migrated to the current schema version."""
    source: Source = resolve(ref, catalog, relative_to)
    if source.key in _stack:
        chain = " -> ".join([*_stack, source.key])
        raise SpecError([SpecIssue("base", f"cycle in base chain: {chain}", Mark(source.display))])
    data, marks = load_yaml(source.read_text(), source.display)
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", "a spec file must hold a mapping at the top", Mark(source.display, 1, 1))])
    data = migrate(data, marks.get(("schema_version",), marks[()]))
    bases = data.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise SpecError([SpecIssue("base", "base must be a name, a path, or a list of them", marks.get(("base",)))])
    result = Composed({}, {}, [], [])
    for base in bases:
        try:
            parent = load_document(base, catalog, relative_to=source.directory, _stack=(*_stack, source.key))
        except SpecError:
            raise
        except Exception as err:  # name misses and unreadable files: locate them at the base key
            raise SpecError([SpecIssue("base", str(err), marks.get(("base",)))]) from None
        _merge_into(result, parent)
    _merge_into(result, Composed(data, marks, [source.display], []))
    return result


def _merge_into(target: Composed, layer: Composed) -> None:
    target.data = merge(target.data, layer.data, (), target.warnings)
    target.marks.update(layer.marks)
    target.sources.extend(layer.sources)
    target.warnings.extend(layer.warnings)


def compose(
    ref: str | Any,
    catalog: Catalog = "specs",
    *,
    layers: Sequence[str] = (),
    overrides: Sequence[str] = (),
    warn: bool = True,
) -> Composed:
    """Compose a document: base chain, the file, ``--set`` layers, then command-line overrides."""
    result = load_document(ref, catalog)
    for layer in layers:
        _merge_into(result, _layer(layer))
    apply_overrides(result, overrides)
    for key in PRESET_NODES:
        expand_preset_node(result, key)
    if warn:
        for note in result.warnings:
            warnings.warn(note, SpecWarning, stacklevel=2)
    return result


def _layer(ref: str) -> Composed:
    """A ``--set`` layer: a full document (with schema_version and maybe base:) or a partial mapping."""
    source = resolve(ref, "specs")
    data, marks = load_yaml(source.read_text(), source.display)
    if isinstance(data, dict) and "schema_version" in data:
        return load_document(ref, "specs")  # migrations and base chains apply
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", "a --set layer must hold a mapping", Mark(source.display, 1, 1))])
    return Composed(data, marks, [source.display], [])


# -- command-line overrides ---------------------------------------------------------------------
def parse_override(item: str) -> tuple[str, str, Any, Marks]:
    """``"a.b=1"`` -> ``("set", "a.b", 1, marks)``; ops are ``set``, ``delete``, ``append``."""
    where = Mark(f"override '{item}'")
    if item.startswith("~"):
        key = item[1:]
        if not key or "=" in key:
            raise SpecError([SpecIssue(key, "a deletion looks like ~a.b", where)])
        return "delete", key, None, {}
    eq = item.find("=")
    if eq < 0:
        raise SpecError([SpecIssue(item, "an override looks like key=value, ~key or key+=value", where)])
    op, key = ("append", item[: eq - 1]) if eq > 0 and item[eq - 1] == "+" else ("set", item[:eq])
    raw = item[eq + 1 :]
    if not key:
        raise SpecError([SpecIssue("", "an override needs a key before '='", where)])
    value, marks = load_yaml(raw, where.source) if raw.strip() else (None, {})
    return op, key, value, {p: where for p in marks}


def _split(key: str) -> list[Any]:
    return [int(part) if part.lstrip("-").isdigit() else part for part in key.split(".")]


def apply_overrides(doc: Composed, overrides: Sequence[str]) -> None:
    """Apply dotlist overrides in place. ``type`` changes go first, so keys set beside them survive."""
    parsed = [(item, *parse_override(item)) for item in overrides]
    parsed.sort(key=lambda p: 0 if _split(p[2])[-1] == "type" and p[1] == "set" else 1)
    for item, op, key, value, value_marks in parsed:
        where = Mark(f"override '{item}'")
        path = _split(key)
        parent = _walk(doc.data, path[:-1], create=op != "delete", where=where, key=key, doc=doc)
        last = path[-1]
        full = tuple(path)
        if op == "delete":
            if not _has(parent, last):
                options = [str(k) for k in (parent if isinstance(parent, dict) else range(len(parent)))]
                match = closest(str(last), options, n=1)
                raise SpecError(
                    [SpecIssue(key, "cannot delete: no such key", where, f"did you mean '{match[0]}'?" if match else "")]
                )
            del parent[last]
        elif op == "append":
            current = parent.get(last) if isinstance(parent, dict) else parent[last]
            if current is None:
                current = []
            if not isinstance(current, list):
                raise SpecError([SpecIssue(key, f"+= needs a list, found {type(current).__name__}", where)])
            _set(parent, last, [*current, value], where, key)
            doc.marks[(*full, len(current))] = where
        else:
            if last == "type" and isinstance(parent, dict) and parent.get("type") not in (None, value):
                dropped = sorted(str(k) for k in parent if k != "type")
                if dropped:
                    doc.warnings.append(
                        f"{_dotted(path[:-1]) or '<root>'}: type changed '{parent['type']}' -> '{value}'; "
                        f"dropped keys of the old type: {', '.join(dropped)}"
                    )
                parent.clear()
            old = parent.get(last) if isinstance(parent, dict) else (parent[last] if _has(parent, last) else None)
            _set(parent, last, merge(old, value, full, doc.warnings) if isinstance(value, dict) else value, where, key)
            doc.marks.update(_prefixed(value_marks, full))
        doc.marks[full] = where


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(key, int) and -len(container) <= key < len(container)


def _set(container: Any, key: Any, value: Any, where: Mark, dotted: str) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif isinstance(key, int) and -len(container) <= key < len(container):
        container[key] = value
    elif isinstance(key, int) and key == len(container):
        container.append(value)
    else:
        raise SpecError([SpecIssue(dotted, f"list index {key} out of range (length {len(container)})", where)])


def expand_preset_node(doc: Composed, key: str) -> None:
    """Replace ``doc.data[key]``, when it is a preset name, by that preset's mapping (marks kept)."""
    name = doc.data.get(key)
    if key not in PRESET_NODES or not isinstance(name, str):
        return
    try:
        preset = load_document(name, PRESET_NODES[key])
    except SpecError:
        raise
    except Exception as err:  # unknown names and unreadable files: locate them at the key
        raise SpecError([SpecIssue(key, str(err), doc.marks.get((key,)))]) from None
    preset.data.pop("schema_version", None)
    doc.data[key] = preset.data
    doc.marks.update(_prefixed({p: m for p, m in preset.marks.items() if p}, (key,)))


def _walk(data: Any, path: list[Any], *, create: bool, where: Mark, key: str, doc: Composed | None = None) -> Any:
    node = data
    for depth, part in enumerate(path):
        here = _dotted(path[: depth + 1])
        if depth == 0 and doc is not None and isinstance(node, dict) and isinstance(node.get(part), str):
            expand_preset_node(doc, part)
        if isinstance(node, dict):
            if part not in node:
                if not create:
                    match = closest(str(part), [str(k) for k in node], n=1)
                    hint = f"did you mean '{match[0]}'?" if match else ""
                    raise SpecError([SpecIssue(here, "no such key", where, hint)])
                node[part] = {}
            node = node[part]
        elif isinstance(node, list):
            if not isinstance(part, int) or not _has(node, part):
                raise SpecError([SpecIssue(here, f"'{part}' is not an index of a list of {len(node)}", where)])
            node = node[part]
        else:
            raise SpecError([SpecIssue(here, f"cannot descend into a {type(node).__name__}", where)])
    if not isinstance(node, (dict, list)):
        raise SpecError([SpecIssue(key, f"'{_dotted(path)}' is a {type(node).__name__}, not a mapping", where)])
    return node
