"""Specs are data: no YAML python tags, no import paths, nothing executed while loading or validating."""

import pytest

import zoo
from zoo.errors import SpecError
from zoo.spec.load import load_spec


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "line",
    [
        "name: !!python/object/apply:os.system ['touch {marker}']",
        "name: !!python/object/new:os.system ['touch {marker}']",
        "name: !!python/name:os.system",
        "name: !!python/module:os",
    ],
)
def test_python_tags_are_rejected_before_anything_runs(tmp_path, line):
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"schema_version: 1\n{line.format(marker=marker)}\npipeline: text-to-video\n")
    with pytest.raises(SpecError, match="python"):
        load_spec(path)
    assert not marker.exists()


@pytest.mark.parametrize("type_name", ["os.system", "zoo.models.tae.TAE", "builtins.eval", "subprocess:run"])
def test_import_paths_are_not_types(tmp_path, type_name):
    path = write(
        tmp_path,
        f"schema_version: 1\nname: x\npipeline: text-to-video\ncomponents:\n  backbone: {{type: '{type_name}'}}\n",
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = next(i for i in info.value.issues if i.path == "components.backbone.type")
    assert f"unknown backbone type '{type_name}'" in issue.message
    assert issue.mark.line == 5


@pytest.mark.parametrize("key", ["_component_", "_target_", "class_path"])
def test_import_style_keys_are_unknown_keys(tmp_path, key):
    path = write(tmp_path, f"schema_version: 1\nbase: moviegen-video-tiny\ncomponents:\n  backbone:\n    {key}: os.system\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert any(i.path == f"components.backbone.{key}" and i.message == "unknown key" for i in info.value.issues)


def test_pipeline_type_cannot_be_an_import_path(tmp_path):
    with pytest.raises(SpecError, match="unknown pipeline type 'zoo.pipeline.Pipeline'"):
        zoo.load(write(tmp_path, "schema_version: 1\nname: x\npipeline: zoo.pipeline.Pipeline\n"))
