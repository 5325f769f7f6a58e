"""YAML in and out, safely, keeping the line and column of every key.

Only PyYAML's safe loader is used: a python tag (``!!python/object``) or any other non-standard tag
is a located error. Loading returns plain data plus ``marks``: a map from each key's path
(``("components", "backbone", "dim")``) to the :class:`~zoo.errors.Mark` where it was written.
"""

from __future__ import annotations

from typing import Any

import yaml

from zoo.errors import Mark, SpecError, SpecIssue

Path = tuple[Any, ...]
Marks = dict[Path, Mark]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TAG_HINT = "specs are plain YAML data; python tags and imports are never executed"


def _mark(source: str, m: yaml.Mark | None) -> Mark:
    return Mark(source, m.line + 1, m.column + 1) if m is not None else Mark(source)


def _error(source: str, path: Path, message: str, m: yaml.Mark | None, hint: str = "") -> SpecError:
    dotted = ".".join(str(p) for p in path)
    return SpecError([SpecIssue(dotted, message, _mark(source, m), hint)], title=f"cannot read {source}")


def load_yaml(text: str, source: str = "<string>") -> tuple[Any, Marks]:
    """Parse ``text`` with the safe loader; returns ``(data, marks)`` or raises a located SpecError."""
    loader = yaml.SafeLoader(text)
    marks: Marks = {(): Mark(source, 1, 1)}

    def convert(node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise _error(source, path, f"tag '{node.tag}' is not allowed in specs", node.start_mark, _TAG_HINT)
            loader.flatten_mapping(node)  # YAML merge keys (<<) are fine: plain data
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = convert(key_node, path)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise _error(source, path, "keys must be plain scalars", key_node.start_mark)
                if key in out:
                    raise _error(source, (*path, key), "duplicate key", key_node.start_mark)
                marks[(*path, key)] = _mark(source, key_node.start_mark)
                out[key] = convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _error(source, path, f"tag '{node.tag}' is not allowed in specs", node.start_mark, _TAG_HINT)
            items = []
            for i, item in enumerate(node.value):
                marks[(*path, i)] = _mark(source, item.start_mark)
                items.append(convert(item, (*path, i)))
            return items
        try:
            return loader.construct_object(node, deep=True)  # safe constructor: unknown tags raise
        except yaml.constructor.ConstructorError as err:
            raise _error(source, path, str(err.problem), err.problem_mark, _TAG_HINT) from None

    try:
        root = loader.get_single_node()
        data = convert(root, ()) if root is not None else None
    except yaml.MarkedYAMLError as err:
        problem = err.problem or str(err)
        hint = _TAG_HINT if "tag" in problem else ""
        raise _error(source, (), problem, err.problem_mark or err.context_mark, hint) from None
    finally:
        loader.dispose()
    return data, marks


def dump_yaml(data: Any) -> str:
    """Serialise plain data as block-style YAML, keeping key order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
