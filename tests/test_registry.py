import sys
import textwrap

import pytest
from pydantic import Field

import zoo
from zoo.errors import RegistryError, UnknownNameError
from zoo.registry import KINDS, REGISTRY, Registry
from zoo.spec.params import Params


class P(Params):
    n: int = Field(1, description="A number.")


def test_all_kinds_exist_from_day_one():
    for kind in ("autoencoder", "backbone", "text_encoder", "vision_encoder", "flow", "sampler", "schedule",
                 "pipeline", "dataset", "metric", "strategy", "recipe"):
        assert kind in KINDS
        assert isinstance(REGISTRY.names(kind), list)


def test_register_decorator_and_lookup():
    reg = Registry(builtin_modules={})

    @reg.register("backbone", "b1", params=P, description="One.")
    def build(p):
        return p.n

    entry = reg.get("backbone", "b1")
    assert entry.factory is build and entry.description == "One." and entry.module == __name__
    assert entry.build(P(n=3)) == 3


def test_duplicates_raise_unless_override():
    reg = Registry(builtin_modules={})
    reg.register("backbone", "b", params=P, description="x", factory=lambda p: 1)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("backbone", "b", params=P, description="x", factory=lambda p: 2)
    reg.register("backbone", "b", params=P, description="x", factory=lambda p: 3, override=True)
    assert reg.get("backbone", "b").build(P()) == 3


def test_miss_lists_closest_and_valid_names():
    reg = Registry(builtin_modules={})
    for name in ("moviegen-transformer", "dit"):
        reg.register("backbone", name, params=P, description="x", factory=lambda p: 0)
    with pytest.raises(UnknownNameError) as info:
        reg.get("backbone", "moviegen-transfomer")
    assert info.value.suggestions == ["moviegen-transformer"]
    assert info.value.valid == ["dit", "moviegen-transformer"]
    assert "Did you mean 'moviegen-transformer'?" in str(info.value)
    with pytest.raises(UnknownNameError, match="unknown kind 'backbon'"):
        reg.names("backbon")


def test_builtin_modules_are_imported_lazily_on_first_lookup(tmp_path, monkeypatch):
    (tmp_path / "lazy_builtin_mod.py").write_text(textwrap.dedent("""
        from pydantic import Field
        from zoo.registry import REGISTRY
        from zoo.spec.params import Params
        import lazy_target
        class Q(Params):
            n: int = Field(1, description="n")
        lazy_target.reg.register("metric", "lazy-metric", params=Q, description="Lazy.", factory=lambda p: p)
    """))
    (tmp_path / "lazy_target.py").write_text("reg = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazy_target

    reg = Registry(builtin_modules={"metric": ("lazy_builtin_mod",)})
    lazy_target.reg = reg
    assert "lazy_builtin_mod" not in sys.modules
    assert reg.names("metric") == ["lazy-metric"]  # imported by the lookup itself
    assert "lazy_builtin_mod" in sys.modules


def test_plugins_register_through_the_entry_point_group(tmp_path, monkeypatch):
    (tmp_path / "zoo_test_plugin.py").write_text(textwrap.dedent("""
        from pydantic import Field
        from zoo.spec.params import Params
        import zoo_test_plugin_target as target
        class PluginParams(Params):
            width: int = Field(2, description="Width.")
        def register_all():
            target.reg.register("backbone", "plugin-net", params=PluginParams, description="From a plugin.",
                                factory=lambda p: p.width)
    """))
    (tmp_path / "zoo_test_plugin_target.py").write_text("reg = None\n")
    dist = tmp_path / "zoo_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zoo_test.components]\nplugin = zoo_test_plugin:register_all\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import zoo_test_plugin_target as target

    reg = Registry(builtin_modules={}, group="zoo_test.components")
    target.reg = reg
    assert reg.names("backbone") == ["plugin-net"]
    assert reg.get("backbone", "plugin-net").description == "From a plugin."


def test_zoo_register_works_from_a_notebook():
    @zoo.register("metric", "notebook-metric", params=P, description="Registered interactively.")
    def build(p):
        return p.n * 2

    try:
        assert "notebook-metric" in zoo.list(kind="metric")
        assert zoo.registry.get("metric", "notebook-metric").build(P(n=2)) == 4
    finally:
        REGISTRY.unregister("metric", "notebook-metric")


def test_description_must_be_one_line():
    with pytest.raises(RegistryError):
        Registry(builtin_modules={}).register("metric", "m", params=P, description="", factory=lambda p: p)


def test_every_registered_entry_has_described_params():
    for entry in REGISTRY.entries():
        for name, field in entry.params.model_fields.items():
            assert field.description, f"{entry.kind}/{entry.name}: field '{name}' has no description"
