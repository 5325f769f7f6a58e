import pytest

from zoo.errors import SpecError
from zoo.spec.compose import SpecWarning, compose, merge, parse_override

BASE = "schema_version: 1\nname: base\na: {type: x, p: 1, q: 2}\nlst: [1, 2]\nkeep: yes\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_base_chain_merges_deeply_in_order(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "mid.yaml", "schema_version: 1\nbase: base.yaml\nname: mid\na: {p: 10}\n")
    child = write(tmp_path, "child.yaml", "schema_version: 1\nbase: mid.yaml\nname: child\nlst: [9]\n")
    doc = compose(child)
    assert doc.data == {"schema_version": 1, "name": "child", "a": {"type": "x", "p": 10, "q": 2}, "lst": [9], "keep": True}
    assert [s.split("/")[-1] for s in doc.sources] == ["base.yaml", "mid.yaml", "child.yaml"]
    # each key remembers the file that wrote it last
    assert doc.marks[("a", "p")].source.endswith("mid.yaml")
    assert doc.marks[("a", "q")].source.endswith("base.yaml")


def test_list_of_bases_merges_left_to_right(tmp_path):
    write(tmp_path, "b1.yaml", "schema_version: 1\nv: 1\nonly1: 1\n")
    write(tmp_path, "b2.yaml", "schema_version: 1\nv: 2\n")
    child = write(tmp_path, "c.yaml", "schema_version: 1\nbase: [b1.yaml, b2.yaml]\n")
    assert compose(child).data == {"schema_version": 1, "v": 2, "only1": 1}


def test_base_cycle_is_detected(tmp_path):
    write(tmp_path, "a.yaml", "schema_version: 1\nbase: b.yaml\n")
    b = write(tmp_path, "b.yaml", "schema_version: 1\nbase: a.yaml\n")
    with pytest.raises(SpecError, match="cycle in base chain"):
        compose(b)


def test_unknown_base_preset_suggests_names(tmp_path):
    path = write(tmp_path, "a.yaml", "schema_version: 1\nbase: moviegen-vidoe\n")
    with pytest.raises(SpecError) as info:
        compose(path)
    issue = info.value.issues[0]
    assert issue.path == "base" and issue.mark.line == 2
    assert "moviegen-video" in issue.message


def test_type_swap_resets_node_and_warns_with_dropped_keys():
    notes = []
    out = merge({"a": {"type": "x", "p": 1, "q": 2}}, {"a": {"type": "y", "r": 3}}, (), notes)
    assert out == {"a": {"type": "y", "r": 3}}
    assert notes == ["a: type changed 'x' -> 'y'; dropped keys of the old type: p, q"]


def test_same_type_merges_and_replace_marker_replaces():
    assert merge({"type": "x", "p": 1}, {"type": "x", "q": 2}) == {"type": "x", "p": 1, "q": 2}
    assert merge({"p": 1, "q": 2}, {"_replace_": True, "q": 3}) == {"q": 3}


def test_overrides_set_delete_append(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    doc = compose(path, overrides=["a.p=5", "~a.q", "lst+=3", "new.deep.key=[1, 2]", "keep=null"])
    assert doc.data["a"] == {"type": "x", "p": 5}
    assert doc.data["lst"] == [1, 2, 3]
    assert doc.data["new"] == {"deep": {"key": [1, 2]}}
    assert doc.data["keep"] is None
    assert doc.marks[("a", "p")].source == "override 'a.p=5'"


def test_override_type_change_keeps_keys_from_the_same_command_line(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    with pytest.warns(SpecWarning, match="dropped keys of the old type: p, q"):
        doc = compose(path, overrides=["a.r=7", "a.type=y"])
    assert doc.data["a"] == {"type": "y", "r": 7}


def test_list_items_are_addressed_by_index(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    assert compose(path, overrides=["lst.0=7"]).data["lst"] == [7, 2]
    with pytest.raises(SpecError, match="not an index"):
        compose(path, overrides=["lst.5.x=1"])


def test_deleting_a_missing_key_suggests_the_closest(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    with pytest.raises(SpecError) as info:
        compose(path, overrides=["~a.pp"])
    issue = info.value.issues[0]
    assert issue.mark.source == "override '~a.pp'" and issue.hint == "did you mean 'p'?"


def test_set_layers_apply_between_file_and_overrides(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    layer = write(tmp_path, "layer.yaml", "a: {p: 100, z: 1}\n")
    doc = compose(path, layers=[layer], overrides=["a.z=2"])
    assert doc.data["a"] == {"type": "x", "p": 100, "q": 2, "z": 2}
    assert doc.marks[("a", "p")].source.endswith("layer.yaml")


@pytest.mark.parametrize(
    "item, expected",
    [
        ("a.b=1", ("set", "a.b", 1)),
        ("a.b=hello world", ("set", "a.b", "hello world")),
        ("a=", ("set", "a", None)),
        ("~a.b", ("delete", "a.b", None)),
        ("a.l+=x", ("append", "a.l", "x")),
        ("a.b={type: t, n: 2}", ("set", "a.b", {"type": "t", "n": 2})),
    ],
)
def test_parse_override_forms(item, expected):
    assert parse_override(item)[:3] == expected


@pytest.mark.parametrize("item", ["novalue", "=1", "~"])
def test_malformed_overrides_are_errors(item):
    with pytest.raises(SpecError):
        parse_override(item)


def test_override_values_cannot_carry_python_tags(tmp_path):
    path = write(tmp_path, "base.yaml", BASE)
    with pytest.raises(SpecError, match="python"):
        compose(path, overrides=["a.p=!!python/name:os.system"])
