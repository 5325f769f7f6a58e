"""The documentation is executable: what it shows is what zoo does.

* The generated spec reference has a section for every registered entry and a row for every field.
* Every fenced ``python`` block in ``docs/*.md`` runs (each in a fresh namespace and working directory).
* Every ``zoo list|info|validate|config|cp|estimate`` command in a ``bash``/``console`` block exits 0, or the
  code given by a preceding ``<!-- expect-exit: N -->`` line; in ``console`` blocks the lines after a
  ``$ zoo ...`` command are its expected output (``...`` matches anything).
* ``yaml`` blocks with ``title="name.yaml"`` are written into the working directory first, so the
  commands and code of a page can use the files the page shows.
* A block preceded by ``<!-- no-test -->`` is skipped.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import pytest
from pydantic import Field

import zoo  # noqa: F401 - applies the torchvision shim first
from zoo.cli import main
from zoo.registry import KINDS, REGISTRY
from zoo.spec.params import Params, Slot, component

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
RUNNABLE = {"list", "info", "validate", "config", "cp", "estimate"}
SHELL_LANGS = {"bash", "console", "shell", "sh"}


def _load_hook():
    spec = importlib.util.spec_from_file_location("spec_reference", DOCS / "hooks" / "spec_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


# -- reading the docs ---------------------------------------------------------------------------
@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    title: str | None
    code: str
    marker: str  # the HTML comment on the nearest non-blank line before the fence, or ""

    @property
    def skipped(self) -> bool:
        return self.marker == "<!-- no-test -->"

    @property
    def expected_exit(self) -> int:
        found = re.fullmatch(r"<!--\s*expect-exit:\s*(\d+)\s*-->", self.marker)
        return int(found.group(1)) if found else 0


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def read_blocks(path: Path) -> list[Block]:
    """Fenced code blocks of a Markdown page (indented ones too, e.g. inside admonitions)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^{re.escape(indent)}{re.escape(fence)}\s*$", lines[j]):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        before = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        title = re.search(r'title="([^"]+)"', info)
        blocks.append(
            Block(
                page=path.relative_to(DOCS).as_posix(),
                line=i + 1,
                lang=info.split()[0].lower() if info else "",
                title=title.group(1) if title else None,
                code="\n".join(body) + "\n",
                marker=before if before.startswith("<!--") else "",
            )
        )
        i = j + 1
    return blocks


ALL_BLOCKS = {page.relative_to(DOCS).as_posix(): read_blocks(page) for page in PAGES}
PYTHON_BLOCKS = [b for blocks in ALL_BLOCKS.values() for b in blocks if b.lang == "python" and not b.skipped]


@dataclass
class Command:
    block: Block
    argv: list[str]
    expected: list[str]  # expected output lines (console blocks)


def commands(blocks: list[Block]) -> Iterator[Command]:
    """The runnable ``zoo`` commands of a page's shell blocks, in order, with their expected output."""
    for block in blocks:
        if block.lang not in SHELL_LANGS or block.skipped:
            continue
        current: Command | None = None
        for raw in block.code.splitlines():
            prompt = raw.startswith("$ ")
            line = raw[2:] if prompt else raw
            is_command = prompt or block.lang != "console"
            if is_command:
                if current is not None:
                    yield current
                current = None
                argv = shlex.split(line, comments=True) if line.strip() else []
                if argv and argv[0] in ("zoo", ".venv/bin/zoo"):
                    sub = next((a for a in argv[1:] if not a.startswith("-")), None)
                    if sub in RUNNABLE:
                        current = Command(block, argv[1:], [])
            elif current is not None and line.strip():
                current.expected.append(line)
        if current is not None:
            yield current


def write_page_files(page: str, directory: Path) -> None:
    """Write the page's ``title="name.yaml"`` blocks into ``directory``."""
    for block in ALL_BLOCKS[page]:
        if block.title and block.lang in ("yaml", "yml"):
            target = directory / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")


def _normal(text: str) -> str:
    return " ".join(text.split())


def output_matches(expected: str, output: str) -> bool:
    """True if ``expected`` (whitespace-normalised, ``...`` as a wildcard) occurs in ``output``."""
    parts = [re.escape(_normal(p)) for p in expected.split("...")]
    pattern = r"\s*.*?\s*".join(parts)
    return any(re.search(pattern, _normal(line)) for line in output.splitlines())


@pytest.fixture
def docs_workdir(tmp_path, monkeypatch) -> Path:
    """An empty working directory, a private weights cache, and the registry restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / ".cache"))
    before = {(e.kind, e.name): e for e in REGISTRY.entries()}
    yield tmp_path
    for entry in REGISTRY.entries():
        old = before.get((entry.kind, entry.name))
        if old is entry:
            continue
        REGISTRY.unregister(entry.kind, entry.name)
        if old is not None:
            REGISTRY.register(
                old.kind, old.name, params=old.params, description=old.description, factory=old.factory, override=True
            )


# -- 1. the generated reference -----------------------------------------------------------------
def _section(text: str, heading_id: str) -> str:
    start = text.index(f"{{#{heading_id}}}")
    following = [m.start() for m in re.finditer(r"^#{2,3} ", text[start:], flags=re.M)]
    end = start + following[0] if following else len(text)
    return text[start:end]


def test_reference_has_a_section_and_a_row_for_every_registered_entry_and_field():
    text = hook.render_reference()
    entries = REGISTRY.entries()
    assert len(entries) >= 5, "the built-in registry should not be empty"
    for kind in KINDS:
        assert f"{{#{hook.anchor(kind)}}}" in text, kind
    for entry in entries:
        section = _section(text, hook.anchor(entry.kind, entry.name))
        assert hook.prose(entry.description) in section
        for name, info in entry.params.model_fields.items():
            assert f"| `{info.alias or name}` |" in section, f"{entry.kind}/{entry.name}.{name}"
    for model_id, fields in (("weights-spec", ["uri", "sha256", "strict"]), ("metadata", ["scale", "tags"])):
        section = _section(text, model_id)
        assert all(f"| `{f}` |" in section for f in fields)
    top = _section(text, "model-spec")
    assert all(f"| `{f}` |" in top for f in ("schema_version", "name", "pipeline", "components", "weights"))


class _DocsScheduleParams(Params):
    steps: int = Field(10, ge=1, description="Steps.")


class _DocsMetricParams(Params):
    """Parameters of a metric used only by this test."""

    frames: int = Field(description="Frames per clip.")
    mode: Literal["fast", "exact"] = Field("fast", description="Speed or precision.")
    sizes: list[int] = Field(default_factory=lambda: [16, 32], min_length=1, description="Clip sizes.")
    scale: float | None = Field(None, gt=0, le=2, description="Scale | ratio.")
    sha: str = Field("", pattern=r"^[0-9a-f]*$", description="Digest.")
    schedule: Slot("schedule") = Field(
        default_factory=lambda: component("schedule", "docs-schedule", steps=3), description="Grid."
    )
    extra: list[Slot("schedule")] = Field(default_factory=list, description="More grids.")


@pytest.fixture
def docs_entries(docs_workdir):
    REGISTRY.register("schedule", "docs-schedule", params=_DocsScheduleParams, description="Test grid.", factory=dict)
    REGISTRY.register("metric", "docs-metric", params=_DocsMetricParams, description="Test metric.", factory=dict)


def test_reference_rows_show_readable_types_defaults_and_constraints(docs_entries):
    section = _section(hook.render_reference(), "metric-docs-metric")
    rows = {line.split(" | ")[0].strip("| `"): line for line in section.splitlines() if line.startswith("| `")}
    assert rows["frames"] == "| `frames` | <code>int</code> | required |  | Frames per clip. |"
    assert rows["mode"] == "| `mode` | <code>Literal['fast', 'exact']</code> | <code>fast</code> |  | Speed or precision. |"
    assert "<code>[16, 32]</code> | min length 1 |" in rows["sizes"]
    assert "<code>float &#124; None</code> | <code>null</code> | > 0, ≤ 2 | Scale \\| ratio. |" in rows["scale"]
    assert "pattern `^[0-9a-f]*$`" in rows["sha"]
    assert "[schedule](#kind-schedule) node | <code>{type: docs-schedule, steps: 3}</code>" in rows["schedule"]
    assert "| list of [schedule](#kind-schedule) nodes | <code>[]</code> |" in rows["extra"]
    assert "Parameters of a metric used only by this test." in section


def test_hook_fills_only_the_reference_page():
    class File:
        def __init__(self, src_uri):
            self.src_uri = src_uri

    class Page:
        def __init__(self, src_uri):
            self.file = File(src_uri)

    text = f"# Spec reference\n\n{hook.MARKER}\n"
    filled = hook.on_page_markdown(text, Page(hook.PAGE), None, None)
    assert hook.MARKER not in filled and "{#model-spec}" in filled
    assert hook.on_page_markdown(text, Page("index.md"), None, None) == text
    assert hook.MARKER in (DOCS / hook.PAGE).read_text()


# -- 2. python blocks ---------------------------------------------------------------------------
@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"{b.page}:{b.line}" for b in PYTHON_BLOCKS])
def test_python_block_runs(block: Block, docs_workdir: Path):
    write_page_files(block.page, docs_workdir)
    code = compile(block.code, f"docs/{block.page}:{block.line}", "exec")
    exec(code, {"__name__": "__docs__"})  # noqa: S102 - the docs' own examples


# -- 3. command lines ---------------------------------------------------------------------------
PAGES_WITH_COMMANDS = [page for page, blocks in ALL_BLOCKS.items() if any(True for _ in commands(blocks))]


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS)
def test_cli_commands_exit_and_print_as_documented(page: str, docs_workdir: Path, capsys):
    write_page_files(page, docs_workdir)
    failures = []
    for command in commands(ALL_BLOCKS[page]):
        where = f"docs/{page}:{command.block.line}: zoo {shlex.join(command.argv)}"
        try:
            code = main(command.argv)
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
        captured = capsys.readouterr()
        output = captured.out + captured.err
        if code != command.block.expected_exit:
            failures.append(f"{where}: exit {code}, expected {command.block.expected_exit}\n{output}")
        missing = [line for line in command.expected if line.strip() != "..." and not output_matches(line, output)]
        if missing:
            failures.append(f"{where}: output lacks {missing}\n--- output ---\n{output}")
    assert not failures, "\n\n".join(failures)


def test_docs_parser_finds_markers_titles_and_expected_output():
    blocks = ALL_BLOCKS["specs.md"]
    broken = next(b for b in blocks if b.title == "broken.yaml")
    assert broken.lang == "yaml" and broken.code.startswith("schema_version: 1\n")
    validate = [c for c in commands(blocks) if c.argv == ["validate", "broken.yaml"]]
    assert len(validate) == 1 and validate[0].block.expected_exit == 2
    assert any("did you mean 'layers'?" in line for line in validate[0].expected)
    assert output_matches("a ... c", "x a b c y") and not output_matches("a ... c", "c b a")


# -- 4. the site --------------------------------------------------------------------------------
def test_site_builds_in_strict_mode_with_the_generated_reference(tmp_path, monkeypatch):
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"))
    assert config["strict"] is True
    build(config)  # raises mkdocs.exceptions.Abort on any warning: a broken link, anchor or nav entry
    html = (tmp_path / "site" / "reference" / "specs" / "index.html").read_text(encoding="utf-8")
    assert hook.MARKER not in html
    for entry in REGISTRY.entries():
        assert f'id="{hook.anchor(entry.kind, entry.name)}"' in html
