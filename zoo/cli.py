"""The ``zoo`` command line: list, info, estimate, validate, config show, cp, run.

User errors (a bad spec, an unknown name, a missing file) print a short message and exit 2; pass
``--debug`` to see the traceback. Argument parsing is the standard library's, so no CLI framework
version can break the commands.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.table import Table

EXIT_USER_ERROR = 2

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 120)


# -- commands -----------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    import zoo
    from zoo.registry import KINDS, REGISTRY

    what, pattern = args.what, args.pattern
    if what not in ("presets", "recipes", "components"):
        what, pattern = "presets", what  # `zoo list 'moviegen-*'`
    if what == "presets":
        table = Table("preset", "pipeline", "scale", "description", title="presets")
        for name in zoo.list(pattern):
            spec = _quiet_load_spec(name)
            table.add_row(name, spec.pipeline.type, spec.metadata.scale, spec.description)
    elif what == "recipes":
        table = Table("recipe", "file", title="recipes")
        from zoo.spec.catalog import shipped_path

        for name in zoo.list_recipes(pattern):
            table.add_row(name, shipped_path("recipes", name).name)
    else:
        kinds = [args.kind] if args.kind else list(KINDS)
        table = Table("kind", "type", "description", "module", title="registered components")
        for kind in kinds:
            for entry in REGISTRY.entries(kind):
                if _match(entry.name, pattern):
                    table.add_row(kind, entry.name, entry.description, entry.module)
    out.print(table)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import zoo

    height, width = _size(args.size)
    report = zoo.info(args.name, height=height, width=width, frames=args.frames, overrides=args.overrides)
    out.print(f"[bold]{report.name}[/bold]  {report.description}")
    out.print(f"pipeline: {report.pipeline}    scale: {report.metadata.get('scale')}")
    table = Table("component", "type", "parameters", title="parameters (counted on the meta device)")
    for row in report.components:
        table.add_row(row.role, row.type, f"{row.parameters:,}  ({_human(row.parameters)})")
    table.add_row("[bold]total[/bold]", "", f"{report.total_parameters:,}  ({_human(report.total_parameters)})")
    out.print(table)
    if report.latent_shape is not None and report.tokens is not None:
        out.print(
            f"input: {report.frames} frames x {report.height}x{report.width} px  ->  "
            f"latent (C, T, H, W) = {tuple(report.latent_shape)}  ->  {report.tokens:,} tokens"
        )
    elif report.latent_shape is not None:
        out.print(
            f"input: {report.frames} frames x {report.height}x{report.width} px  ->  "
            f"latent (C, T, H, W) = {tuple(report.latent_shape)}"
        )
    out.print(f"weights: {report.weights or 'none (random init)'}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError
    from zoo.parallel.estimate import estimate, estimate_table

    estimates = []
    for ref in args.strategy:
        strategy = _load_strategy(ref)
        world_size = args.world_size
        if world_size is None:
            if strategy.dp_shard == -1:
                raise ZooError(f"strategy '{ref}' has dp_shard: -1 (the rest of the GPUs); pass --world-size N")
            world_size = strategy.dp_replicate * strategy.dp_shard * strategy.cp * strategy.tp
        estimates.append(
            estimate(args.preset, strategy, world_size=world_size, tokens=args.tokens, text_tokens=args.text_tokens,
                     batch_per_replica=args.batch, gpu=args.gpu, mfu=args.mfu, overrides=args.overrides)
        )
    header, *rows = estimate_table(estimates, [Path(ref).stem for ref in args.strategy])
    table = Table(*header, title=f"{estimates[0].model}: one training step, per GPU")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError
    from zoo.spec.compose import compose
    from zoo.spec.load import document_kind, load_spec, validate_document

    failed = 0
    for ref in args.files:
        try:
            doc = compose(ref, _catalog(ref), layers=args.set, overrides=args.overrides, warn=False)
            for note in doc.warnings:
                err.print(f"[yellow]warning:[/yellow] {note}")
            spec = validate_document(doc)
            kind = document_kind(doc.data)
            model = getattr(getattr(spec, "params", None), "model", None)
            if kind == "recipe" and hasattr(model, "preset"):  # the model the recipe builds, overrides applied
                load_spec(model.preset, overrides=model.overrides, warn=False)
            out.print(f"[green]ok[/green]  {ref}  ({kind}: {getattr(spec, 'name', None) or spec.type})")
        except ZooError as error:
            failed += 1
            _print_error(error, ref)
    return EXIT_USER_ERROR if failed else 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from zoo.spec.compose import compose
    from zoo.spec.load import validate_document
    from zoo.spec.model_spec import ModelSpec, recipe_to_dict
    from zoo.spec.yaml_io import dump_yaml

    doc = compose(args.ref, _catalog(args.ref), layers=args.set, overrides=args.overrides, warn=False)
    for note in doc.warnings:
        err.print(f"warning: {note}", markup=False)
    if args.resolved:
        spec = validate_document(doc)
        data = spec.to_dict() if isinstance(spec, ModelSpec) else recipe_to_dict(spec)
    else:
        data = doc.data
    out.print(dump_yaml(data), end="", markup=False)
    return 0


def cmd_cp(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError
    from zoo.spec import catalog

    sources = [(c, catalog.shipped_path(c, args.name)) for c in ("specs", "recipes") if args.name in catalog.names(c)]
    if not sources:
        catalog.shipped_path(_catalog(args.name), args.name)  # raises with suggestions
    _, source = sources[0]
    dest = Path(args.dest)
    if args.dest.endswith(("/", "\\")):
        dest.mkdir(parents=True, exist_ok=True)
    if dest.is_dir():
        dest = dest / source.name
    if dest.exists() and not args.force:
        raise ZooError(f"{dest} exists; pass --force to overwrite it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    out.print(f"copied {args.name} -> {dest}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError
    from zoo.spec.load import load_recipe

    overrides = list(args.overrides)
    if args.limit is not None:
        overrides.append(f"limit={args.limit}")  # validated like any override: recipes without `limit` say so
    spec = load_recipe(args.recipe, layers=args.set, overrides=overrides)
    runner = spec.build()
    run = getattr(runner, "run", None)
    if not callable(run):
        raise ZooError(f"recipe type '{spec.type}' built {type(runner).__name__}, which has no run()")
    result = run()
    return int(result) if isinstance(result, int) else 0


def cmd_generate(args: argparse.Namespace) -> int:
    import zoo
    from zoo.errors import ZooError
    from zoo.io.video import write_contact_sheet, write_mp4

    height, width = _size(args.size)
    pipe = zoo.load(args.model, overrides=args.overrides, weights=args.weights)
    guide = None
    if args.guide is not None or args.guide_weights is not None or args.guide_overrides:
        guide = zoo.load(args.guide or args.model, overrides=args.guide_overrides, weights=args.guide_weights)
        try:
            pipe.check_guide(guide)
        except ValueError as error:
            raise ZooError(f"--guide: {error}") from None
    result = pipe(
        args.prompt,
        guide=guide,
        guide_scale=args.guide_scale,
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed,
        frames=args.frames,
        height=height,
        width=width,
        fps=args.fps,
        progress=not args.quiet,
    )
    frames = result.frames_uint8()[0]
    video_path = Path(args.out)
    sheet_path = video_path.with_suffix(".png")
    write_mp4(frames, str(video_path), fps=result.fps)
    write_contact_sheet(frames, str(sheet_path))
    t, h, w = frames.shape[:3]
    out.print(f"wrote {video_path} ({t} frames, {h}x{w} px) and {sheet_path}", markup=False)
    return 0


# -- helpers ------------------------------------------------------------------------------------
def _catalog(ref: str) -> Any:
    from zoo.spec.load import catalog_for

    return catalog_for(ref)


def _quiet_load_spec(name: str) -> Any:
    from zoo.spec.load import load_spec

    return load_spec(name, warn=False)


def _load_strategy(ref: str) -> Any:
    """A ``model-parallel`` node from a strategy preset name (``h100-8x8``) or a YAML file."""
    from zoo.spec.compose import load_document
    from zoo.spec.validate import validate_component

    doc = load_document(ref, "strategies")
    doc.data.pop("schema_version", None)
    return validate_component("strategy", doc.data, doc.marks).params


def _match(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def _size(size: str | None) -> tuple[int | None, int | None]:
    from zoo.errors import ZooError

    if size is None:
        return None, None
    parts = size.lower().split("x")
    if len(parts) == 1 and parts[0].isdigit():
        return int(parts[0]), int(parts[0])
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    raise ZooError(f"--size must look like 768 or 576x1024 (height x width), got '{size}'")


def _human(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def _print_error(error: BaseException, ref: str | None = None) -> None:
    head = f"error: {ref}: " if ref else "error: "
    err.print(f"{head}{error}", markup=False)


# -- parser -------------------------------------------------------------------------------------
def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides: a.b=1, ~a.b (delete), a.l+=x")
    p.add_argument("--set", action="append", default=[], metavar="FILE", help="YAML layer merged over the spec")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="Declare, train, evaluate and run Movie Gen models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list presets, recipes or registered components")
    p.add_argument("what", nargs="?", default="presets", help="presets (default), recipes or components")
    p.add_argument("pattern", nargs="?", default="*", help="glob pattern, e.g. 'moviegen-*'")
    p.add_argument("--kind", help="only this registry kind (with 'components')")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="parameter counts, latent and token shapes of a preset")
    p.add_argument("name", help="preset name, path or URI")
    p.add_argument("--size", help="frame size in pixels: 768 or HEIGHTxWIDTH")
    p.add_argument("--frames", type=int, help="number of frames")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("estimate", help="memory per GPU and step time of training a preset under a strategy")
    p.add_argument("preset", help="preset name, path or URI")
    p.add_argument("--strategy", action="append", required=True, metavar="NAME_OR_YAML",
                   help="strategy preset (h100-8x8) or YAML file; repeat to compare")
    p.add_argument("--world-size", type=int, help="number of GPUs (default: the strategy's degrees multiplied)")
    p.add_argument("--tokens", type=int, help="video tokens per sample (default: the preset's video size)")
    p.add_argument("--text-tokens", type=int, help="text tokens per sample (default: the encoders' max_tokens)")
    p.add_argument("--batch", type=int, default=1, help="samples per data-parallel replica per step")
    p.add_argument("--gpu", default="h100", help="h100 or h200")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation assumed for the step time")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides of the preset")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("validate", help="check specs or recipes without building anything")
    p.add_argument("files", nargs="+", metavar="SPEC", help="files, preset names or recipe names")
    p.add_argument("--set", action="append", default=[], metavar="FILE")
    p.add_argument("-o", "--override", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("config", help="inspect composed specs")
    config_sub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_sub.add_parser("show", help="print a spec or recipe after composition")
    show.add_argument("ref", help="preset/recipe name, path or URI")
    show.add_argument("--resolved", action="store_true", help="validate and fill every default")
    _add_overrides(show)
    show.set_defaults(func=cmd_config_show)

    p = sub.add_parser("cp", help="copy a shipped spec or recipe to edit it")
    p.add_argument("name", help="preset or recipe name")
    p.add_argument("dest", help="destination file or directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_cp)

    p = sub.add_parser("generate", help="generate a video from a prompt (mp4 + PNG contact sheet)")
    p.add_argument("prompt", help="what the video should show")
    p.add_argument("--model", default="moviegen-video-tiny", help="preset name, path or URI")
    p.add_argument("--weights", help="weights file to load instead of the preset's (path or URI, e.g. a run's)")
    p.add_argument("--out", default="video.mp4", help="output mp4 path; the contact sheet goes beside it as .png")
    p.add_argument("--steps", type=int, help="solver steps (default: the preset's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same video")
    p.add_argument("--frames", type=int, help="number of frames (default: the preset's)")
    p.add_argument("--size", help="frame size in pixels: 64 or HEIGHTxWIDTH (default: the preset's)")
    p.add_argument("--fps", type=float, help="frames per second (default: the preset's)")
    p.add_argument("--guide", help="a weaker model to guide away from (autoguidance): preset name, path or URI "
                   "(default, when another --guide- option is given: --model)")
    p.add_argument("--guide-weights", help="the guide's weights (path or URI)")
    p.add_argument("--guide-override", dest="guide_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of the guide's preset, e.g. components.backbone.layers=4 (repeatable)")
    p.add_argument("--guide-scale", type=float, default=1.4, help="autoguidance scale; 1 switches the guide off")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides of the preset")
    p.set_defaults(func=cmd_generate)

    for name in ("run", "train"):
        p = sub.add_parser(name, help="run a recipe" if name == "run" else "alias of run")
        p.add_argument("recipe", help="recipe name, path or URI")
        p.add_argument("--limit", type=int, help="evaluation recipes: only the first N prompts (sets limit=N)")
        _add_overrides(p)
        p.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit code."""
    import zoo  # noqa: F401 - applies the torchvision shim before anything else
    from zoo.errors import ZooError
    from zoo.spec.compose import SpecWarning

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # overrides may follow options (`config show REF --set f.yaml a.b=1`): argparse leaves them over
    if extra and hasattr(args, "overrides") and all("=" in e or e.startswith("~") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    with warnings.catch_warnings():
        warnings.simplefilter("always", SpecWarning)
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except ZooError as error:
            if args.debug:
                raise
            _print_error(error)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            err.print("interrupted")
            return 130


def _show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    err.print(f"warning: {message}", markup=False)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
