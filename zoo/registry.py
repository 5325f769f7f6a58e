"""The registry: ``(kind, name) -> Entry(factory, Params model, description)``.

Three ways in, one table:

* built-in modules, listed per kind in :data:`BUILTIN_MODULES` and imported the first time that kind
  is looked up, so a name never goes missing because its module was not imported yet;
* third-party plugins, through the ``moviegen_zoo.components`` entry-point group (each entry point
  names a module or a zero-argument callable that registers its entries);
* :func:`register` called directly, e.g. from a notebook.

A duplicate ``(kind, name)`` raises unless ``override=True``; a miss raises
:class:`~zoo.errors.UnknownNameError` with the closest names and every valid one.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from zoo.errors import RegistryError, UnknownNameError

if TYPE_CHECKING:
    from zoo.spec.params import Params

KINDS: tuple[str, ...] = (
    "autoencoder",
    "backbone",
    "text_encoder",
    "vision_encoder",
    "video_features",
    "flow",
    "timestep_sampler",
    "sampler",
    "schedule",
    "pipeline",
    "dataset",
    "metric",
    "strategy",
    "recipe",
)

# Modules that register the built-in entries of each kind; imported on the first lookup of that kind.
BUILTIN_MODULES: dict[str, tuple[str, ...]] = {kind: () for kind in KINDS}
BUILTIN_MODULES.update(
    {
        "autoencoder": ("zoo.models.tae",),
        "backbone": ("zoo.models.video_transformer",),
        "video_features": ("zoo.models.i3d", "zoo.models.shapes_probe"),
        "text_encoder": ("zoo.models.text",),
        "flow": ("zoo.flow.path",),
        "timestep_sampler": ("zoo.flow.timesteps",),
        "sampler": ("zoo.flow.solvers",),
        "schedule": ("zoo.flow.schedules",),
        "pipeline": ("zoo.pipelines.text_to_video", "zoo.pipelines.autoencode"),
        "dataset": ("zoo.data.shapes_world.dataset", "zoo.data.latent_cache", "zoo.data.prompt_sets"),
        "metric": (
            "zoo.metrics.attribute_accuracy",
            "zoo.metrics.flow_loss",
            "zoo.metrics.clip_score",
            "zoo.metrics.fvd",
        ),
        "strategy": ("zoo.parallel.spec",),
        "recipe": (
            "zoo.recipes.train",
            "zoo.recipes.cache_latents",
            "zoo.recipes.evaluate",
            "zoo.recipes.train_probe",
            "zoo.recipes.train_clip",
        ),
    }
)

ENTRY_POINT_GROUP = "moviegen_zoo.components"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """One registered component: how to build it and what parameters it takes."""

    kind: str
    name: str
    factory: Callable[..., Any]
    params: type[Params]
    description: str
    module: str

    def build(self, params: Params, **runtime: Any) -> Any:
        """Call the factory with validated params and runtime objects (device, dtype, ...)."""
        return self.factory(params, **runtime)


class Registry:
    """A table of entries keyed by (kind, name), with lazy discovery of built-ins and plugins."""

    def __init__(self, builtin_modules: dict[str, tuple[str, ...]] | None = None, group: str | None = None):
        self._entries: dict[tuple[str, str], Entry] = {}
        self._builtin = builtin_modules if builtin_modules is not None else BUILTIN_MODULES
        self._group = group
        self._loaded_kinds: set[str] = set()
        self._plugins_loaded = group is None
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        name: str,
        *,
        params: type[Params],
        description: str,
        factory: Callable[..., Any] | None = None,
        override: bool = False,
    ) -> Callable[[F], F] | Entry:
        """Register ``factory`` under ``(kind, name)``; without ``factory`` returns a decorator."""
        self._check_kind(kind)
        if not description or "\n" in description.strip():
            raise RegistryError(f"{kind}/{name}: the description must be one non-empty line")
        if factory is None:

            def decorator(fn: F) -> F:
                self.register(kind, name, params=params, description=description, factory=fn, override=override)
                return fn

            return decorator
        entry = Entry(kind, name, factory, params, description.strip(), getattr(factory, "__module__", "?"))
        with self._lock:
            old = self._entries.get((kind, name))
            # the same definition executed again (a module reload, a re-run notebook cell) replaces itself
            same_origin = old is not None and (
                old.factory is factory
                or (_qualname(old.factory) == _qualname(factory) and "<lambda>" not in _qualname(factory))
            )
            if old is not None and not override and not same_origin:
                raise RegistryError(
                    f"{kind} '{name}' is already registered by {old.module}.{_qualname(old.factory)}; "
                    "pass override=True to replace it"
                )
            self._entries[(kind, name)] = entry
        return entry

    def unregister(self, kind: str, name: str) -> None:
        """Remove an entry (for tests and notebooks)."""
        with self._lock:
            self._entries.pop((kind, name), None)

    # -- lookup -------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Entry:
        """The entry for ``(kind, name)``; raises UnknownNameError with suggestions on a miss."""
        self._check_kind(kind)
        self._discover(kind)
        try:
            return self._entries[(kind, name)]
        except KeyError:
            raise UnknownNameError(f"{kind} type", name, self.names(kind)) from None

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        self._discover(kind)
        return key in self._entries

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        self._check_kind(kind)
        self._discover(kind)
        return sorted(name for k, name in self._entries if k == kind)

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every entry (of one kind, or of all kinds), sorted by kind then name."""
        for k in [kind] if kind else KINDS:
            self._discover(k)
        return [self._entries[key] for key in sorted(self._entries) if kind is None or key[0] == kind]

    # -- discovery ----------------------------------------------------------------------------
    def _discover(self, kind: str) -> None:
        if kind in self._loaded_kinds and self._plugins_loaded:
            return
        with self._lock:
            if kind not in self._loaded_kinds:
                self._loaded_kinds.add(kind)
                for module in self._builtin.get(kind, ()):
                    importlib.import_module(module)
            if not self._plugins_loaded:
                self._plugins_loaded = True
                self._load_plugins()

    def _load_plugins(self) -> None:
        for ep in entry_points(group=self._group):
            try:
                target = ep.load()
            except Exception as exc:  # a broken plugin must not hide the built-ins
                raise RegistryError(f"plugin entry point '{ep.name}' ({ep.value}) failed to load: {exc}") from exc
            if callable(target) and not isinstance(target, type(importlib)):
                target()

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise UnknownNameError("kind", kind, KINDS)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


REGISTRY = Registry(group=ENTRY_POINT_GROUP)


def register(
    kind: str,
    name: str,
    *,
    params: type[Params],
    description: str,
    factory: Callable[..., Any] | None = None,
    override: bool = False,
) -> Any:
    """Register a component in the global registry (decorator, or direct call with ``factory=``).

    Example::

        @zoo.register("backbone", "my-net", params=MyNetParams, description="A tiny test net.")
        def build(p: MyNetParams) -> nn.Module: ...
    """
    return REGISTRY.register(kind, name, params=params, description=description, factory=factory, override=override)


def get(kind: str, name: str) -> Entry:
    """Look up an entry in the global registry."""
    return REGISTRY.get(kind, name)
