import pytest

from zoo.errors import Mark, SpecError
from zoo.spec.yaml_io import dump_yaml, load_yaml


def test_marks_record_line_and_column_of_every_key():
    data, marks = load_yaml("a: 1\nb:\n  c: [10, 20]\n", "x.yaml")
    assert data == {"a": 1, "b": {"c": [10, 20]}}
    assert marks[("a",)] == Mark("x.yaml", 1, 1)
    assert marks[("b", "c")] == Mark("x.yaml", 3, 3)
    assert marks[("b", "c", 1)] == Mark("x.yaml", 3, 11)


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system {}\n",
        "a: !!python/name:os.system\n",
        "a: !!python/object/apply:os.system ['echo hi']\n",
        "!!python/object:zoo.errors.Mark {source: x}\n",
    ],
)
def test_python_tags_are_rejected_with_a_location(text):
    with pytest.raises(SpecError) as info:
        load_yaml(text, "evil.yaml")
    issue = info.value.issues[0]
    assert issue.mark.source == "evil.yaml" and issue.mark.line == 1
    assert "python" in issue.message


def test_duplicate_keys_are_errors():
    with pytest.raises(SpecError, match="duplicate key") as info:
        load_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert info.value.issues[0].mark == Mark("d.yaml", 3, 1)


def test_syntax_error_is_located():
    with pytest.raises(SpecError) as info:
        load_yaml("a: [1, 2\nb: 3\n", "s.yaml")
    assert info.value.issues[0].mark.source == "s.yaml"


def test_dump_then_load_round_trips():
    data = {"z": 1, "a": {"list": [1, "two", 3.5, None, True]}, "s": "FPS-16 a cat"}
    again, _ = load_yaml(dump_yaml(data))
    assert again == data
    assert list(again) == ["z", "a", "s"]
