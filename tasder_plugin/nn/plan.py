"""Per-layer TASD choices: which series decomposes each GEMM layer's weights and/or input.

A :class:`ModelPlan` maps fully-qualified layer names to :class:`LayerPlan` values. It is plain
data: built from a model (``uniform``, ``dense``), saved and loaded as YAML or JSON with an exact
round trip, and checked against a model (``validate``) before anything is applied.
Layer selection follows the llm-compressor vocabulary: ``targets`` and ``ignore`` are lists of
fully-qualified names or ``re:``-prefixed regular expressions (matched against the whole name).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import yaml
from torch import nn

from ..atomic_io import write_text_atomic
from ..config.coerce import FieldError
from ..errors import ConfigError, MissingFileError
from ..tasd import TASDSeries
from ..tasd.layer_plan import LayerPlan
from .layers import layer_kind

__all__ = [
    "LayerPlan",
    "ModelPlan",
    "gemm_layer_names",
    "output_embedding_name",
    "select_layers",
]

_FORMAT_VERSION = 1


def gemm_layer_names(model: nn.Module) -> list[str]:
    """Fully-qualified names of the model's GEMM layers, in module order."""
    return [name for name, module in model.named_modules() if layer_kind(module) is not None]


def output_embedding_name(model: nn.Module) -> str | None:
    """The name of a HuggingFace LM's output embedding (``lm_head``) where it is a GEMM layer:
    the layer Wanda and SparseGPT leave dense. None for other models."""
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if head is None:
        return None
    name = next((fqn for fqn, module in model.named_modules() if module is head), None)
    return name if name is not None and layer_kind(head) is not None else None


def _closest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def check_selectors(selectors: Iterable[str], what: str) -> None:
    """Every selector is a name or a ``re:`` regex that compiles (checked before any work)."""
    for selector in selectors:
        if not isinstance(selector, str):
            raise FieldError(what, f"entry {selector!r} is not a layer name or 're:' regex")
        if selector.startswith("re:"):
            try:
                re.compile(selector[3:])
            except re.error as err:
                raise FieldError(
                    what, f"entry {selector!r} is not a valid regular expression ({err})"
                ) from None


def check_targets(targets: Iterable[str] | None, ignore: Iterable[str]) -> None:
    """``targets`` and ``ignore`` are selector lists (for a config's ``__post_init__``)."""
    check_selectors(targets or (), "targets")
    check_selectors(ignore, "ignore")


def _select(names: list[str], selectors: Iterable[str], what: str, strict_regex: bool) -> set[str]:
    """Names matched by fqn / ``re:`` selectors; an unknown fqn is an error naming close ones."""
    check_selectors(selectors, what)
    chosen: set[str] = set()
    for selector in selectors:
        if selector.startswith("re:"):
            pattern = re.compile(selector[3:])
            hits = {n for n in names if pattern.fullmatch(n)}
            if strict_regex and not hits:
                raise ConfigError(f"{what} {selector!r} matches no GEMM layer of the model")
            chosen |= hits
        elif selector in names:
            chosen.add(selector)
        else:
            raise ConfigError(
                f"{what} {selector!r} is not a GEMM layer of the model{_closest(selector, names)}"
            )
    return chosen


def select_layers(
    model: nn.Module, targets: Iterable[str] | None = None, ignore: Iterable[str] = ()
) -> list[str]:
    """GEMM layer names matched by ``targets`` (all when None) minus ``ignore``, in module order.

    Names are fully qualified; ``re:`` marks a regex. An unknown target, or a target regex that
    matches nothing, is an error; an ``ignore`` regex may match nothing.
    """
    names = gemm_layer_names(model)
    chosen = set(names) if targets is None else _select(names, targets, "target", True)
    chosen -= _select(names, ignore or (), "ignore", False)
    return [name for name in names if name in chosen]


class ModelPlan(Mapping[str, LayerPlan]):
    """An ordered, immutable map from layer name to :class:`LayerPlan`."""

    def __init__(self, layers: Mapping[str, LayerPlan] | None = None) -> None:
        self._layers: dict[str, LayerPlan] = {}
        for name, plan in (layers or {}).items():
            if not isinstance(plan, LayerPlan):
                raise TypeError(f"layer {name!r}: expected a LayerPlan, got {plan!r}")
            self._layers[str(name)] = plan

    # Mapping protocol
    def __getitem__(self, name: str) -> LayerPlan:
        return self._layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelPlan):
            return NotImplemented
        return list(self._layers.items()) == list(other._layers.items())

    def __hash__(self) -> int:
        return hash(tuple(self._layers.items()))

    def __repr__(self) -> str:
        decomposed = sum(not p.is_dense for p in self._layers.values())
        return f"ModelPlan({len(self)} layers, {decomposed} decomposed)"

    # Construction
    @classmethod
    def uniform(
        cls,
        model: nn.Module,
        weights: TASDSeries | str | None = None,
        activations: TASDSeries | str | None = None,
        targets: Iterable[str] | None = None,
        ignore: Iterable[str] = (),
    ) -> ModelPlan:
        """The same series on every targeted GEMM layer (all of them by default) but ``ignore``d
        ones, which stay dense. Unknown names and regexes in ``targets`` that match nothing are
        errors; a regex in ``ignore`` may match nothing (one ignore list can serve many models).
        """
        names = gemm_layer_names(model)
        chosen = set(select_layers(model, targets, ignore))
        plan = LayerPlan(weights, activations)
        return cls({name: plan if name in chosen else LayerPlan() for name in names})

    @classmethod
    def dense(cls, model: nn.Module) -> ModelPlan:
        """Every GEMM layer dense: the baseline a cost or accuracy is compared with."""
        return cls({name: LayerPlan() for name in gemm_layer_names(model)})

    def decomposed(self) -> dict[str, LayerPlan]:
        """The layers that decompose something."""
        return {name: plan for name, plan in self._layers.items() if not plan.is_dense}

    # Checks
    def validate(self, model: nn.Module) -> ModelPlan:
        """Raise ValueError unless every layer named here is a GEMM layer of ``model``."""
        names = gemm_layer_names(model)
        known = set(names)
        for name in self._layers:
            if name not in known:
                raise ConfigError(
                    f"plan names layer {name!r}, which is not a GEMM layer of the model"
                    f"{_closest(name, names)}"
                )
        return self

    # Serialisation
    def to_dict(self) -> dict:
        layers = {name: plan.to_dict() for name, plan in self._layers.items()}
        return {"version": _FORMAT_VERSION, "layers": layers}

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelPlan:
        if not isinstance(data, Mapping) or not isinstance(data.get("layers"), Mapping):
            raise ConfigError("a TASD plan is a mapping with a 'layers' mapping")
        if data.get("version", _FORMAT_VERSION) != _FORMAT_VERSION:
            raise ConfigError(f"unsupported TASD plan version {data.get('version')!r}")
        layers = {}
        for name, entry in data["layers"].items():
            entry = entry or {}
            unknown = set(entry) - {"weights", "activations"}
            if unknown:
                raise ConfigError(f"layer {name!r}: unknown plan keys {sorted(unknown)}")
            for key in ("weights", "activations"):
                if isinstance(entry.get(key), int):
                    raise ConfigError(
                        f"layer {name!r}: {key} is the number {entry[key]}; YAML 1.1 reads an "
                        "unquoted n:m such as 2:4 as a base-60 number: quote it ('2:4')"
                    )
            try:
                layers[name] = LayerPlan(entry.get("weights"), entry.get("activations"))
            except ValueError as err:
                raise ConfigError(f"layer {name!r}: {err}") from None
        return cls(layers)

    def save(self, path: str | os.PathLike) -> Path:
        """Write YAML (``.yaml``/``.yml``) or JSON (``.json``) atomically."""
        path = Path(path)
        return write_text_atomic(path, _dump(self.to_dict(), path.suffix.lower()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelPlan:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"TASD plan file not found: {path}")
        suffix = path.suffix.lower()
        _dump({}, suffix)  # validates the suffix
        text = path.read_text()
        try:
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot parse TASD plan {path}: {err}") from None
        return cls.from_dict(data)


def _dump(data: dict, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(data, indent=2) + "\n"
    if suffix in (".yaml", ".yml"):
        return yaml.safe_dump(data, sort_keys=False)
    raise ConfigError(
        f"a TASD plan file must end in .yaml, .yml or .json, got {suffix or 'none'!r}"
    )
