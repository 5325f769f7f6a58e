import pytest

from zoo.errors import SpecError
from zoo.spec import migrations
from zoo.spec.compose import compose


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_newer_schema_is_a_clear_error(tmp_path):
    path = write(tmp_path, "new.yaml", f"schema_version: {migrations.CURRENT_SCHEMA_VERSION + 1}\nname: x\n")
    with pytest.raises(SpecError) as info:
        compose(path)
    issue = info.value.issues[0]
    assert "newer than this zoo supports" in issue.message and "upgrade zoo" in issue.hint
    assert issue.mark.line == 1


def test_missing_schema_version_suggests_adding_it(tmp_path):
    path = write(tmp_path, "none.yaml", "name: x\n")
    with pytest.raises(SpecError, match="missing schema_version") as info:
        compose(path)
    assert info.value.issues[0].hint == f"add 'schema_version: {migrations.CURRENT_SCHEMA_VERSION}'"


def test_registered_migrations_upgrade_old_files_step_by_step(tmp_path, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    monkeypatch.setattr(migrations, "CURRENT_SCHEMA_VERSION", 3)

    @migrations.migration(1)
    def rename_model_to_components(data):
        data["components"] = data.pop("model")
        return data

    @migrations.migration(2)
    def add_description(data):
        data.setdefault("description", "migrated")
        return data

    path = write(tmp_path, "old.yaml", "schema_version: 1\nname: x\nmodel: {a: 1}\n")
    doc = compose(path)
    assert doc.data == {"schema_version": 3, "name": "x", "components": {"a": 1}, "description": "migrated"}


def test_a_gap_in_migrations_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    monkeypatch.setattr(migrations, "CURRENT_SCHEMA_VERSION", 2)
    path = write(tmp_path, "old.yaml", "schema_version: 1\nname: x\n")
    with pytest.raises(SpecError, match="no migration from schema_version 1"):
        compose(path)


def test_duplicate_migration_registration_raises(monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    migrations.migration(0)(lambda d: d)
    with pytest.raises(ValueError):
        migrations.migration(0)(lambda d: d)
