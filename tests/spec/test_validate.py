import pytest

from zoo.errors import SpecError
from zoo.spec.load import load_spec, validate_model_spec
from zoo.spec.params import component


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD = """\
schema_version: 1
name: bad
base: toy.yaml
components:
  backbone:
    dimm: 3
    layers: many
    act: gelo
  text_encoders:
    - {type: toy-encc}
"""


def test_all_errors_are_reported_at_once_with_locations_and_hints(toy_spec, tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD)
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    lines = [issue.format() for issue in info.value.issues]
    expected = [
        f"{bad}:6:5  components.backbone.dimm  unknown key  (did you mean 'dim'?)",
        f"{bad}:7:5  components.backbone.layers  Input should be a valid integer, unable to parse string as an "
        "integer (got 'many')",
        f"{bad}:8:5  components.backbone.act  Input should be 'gelu' or 'silu' (got 'gelo')  (did you mean 'gelu'?)",
        f"{bad}:10:8  components.text_encoders.0.type  unknown text_encoder type 'toy-encc'  "
        "(did you mean 'toy-enc'? valid: ",
    ]
    assert "toy-enc" in lines[3].split("valid: ")[1]  # the full list of valid names follows
    lines[3] = lines[3][: len(expected[3])]
    assert lines == expected
    assert str(info.value).startswith("4 errors in spec:")


def test_value_bound_violation_and_wrong_top_level_key(toy_spec, tmp_path):
    bad = write(tmp_path, "b.yaml", "schema_version: 1\nbase: toy.yaml\nnmae: x\ncomponents:\n  backbone: {dim: 0}\n")
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    by_path = {i.path: i for i in info.value.issues}
    assert by_path["nmae"].hint == "did you mean 'name'?" and by_path["nmae"].mark.line == 3
    assert "greater than or equal to 1" in by_path["components.backbone.dim"].message


def test_unknown_pipeline_type_is_located_at_pipeline_key(toy_registry):
    marks = {("pipeline",): __import__("zoo.errors", fromlist=["Mark"]).Mark("f.yaml", 4, 1)}
    with pytest.raises(SpecError) as info:
        validate_model_spec({"schema_version": 1, "name": "n", "pipeline": "toy-pip", "components": {}}, marks)
    issue = info.value.issues[0]
    assert issue.path == "pipeline" and issue.mark.line == 4 and "did you mean 'toy-pipe'" in issue.hint


def test_missing_type_and_missing_required_component(toy_registry):
    with pytest.raises(SpecError) as info:
        validate_model_spec({"schema_version": 1, "name": "n", "pipeline": "toy-pipe", "components": {"text_encoders": [{"hidden": 2}]}})
    messages = {i.path: i.message for i in info.value.issues}
    assert messages["components.text_encoders.0"] == "missing 'type:' (the text_encoder to use)"
    assert messages["components.backbone"] == "missing required field"


def test_bare_type_name_is_shorthand_for_a_node(toy_registry):
    spec = component("sampler", "toy-euler", schedule="toy-linear")
    assert spec.params.schedule.type == "toy-linear" and spec.params.schedule.params.steps == 10


def test_defaults_fill_in_nested_slots(toy_spec):
    spec = load_spec(str(toy_spec))
    assert spec.components.sampler.params.schedule.params.steps == 5
    assert spec.components.backbone.params.act == "gelu"


def test_round_trip_spec_yaml_spec(toy_spec, tmp_path):
    spec = load_spec(str(toy_spec))
    again = load_spec(write(tmp_path, "again.yaml", spec.to_yaml()))
    assert again == spec
    assert again.to_yaml() == spec.to_yaml()
    only_set = spec.to_dict(only_set=True)
    assert "act" not in only_set["components"]["backbone"]  # defaults are not written back


def test_python_construction_validates_too(toy_registry):
    with pytest.raises(SpecError, match="unknown key"):
        component("backbone", "toy-net", widht=3)
    node = component("backbone", "toy-net", dim=4)
    assert node.replace(layers=3).params.layers == 3 and node.params.layers == 2
    assert node.build()[0].in_features == 4
