"""Model adapters: turn a model config (source, architecture, weights) into a module.

One registry maps a ``source`` name to a :class:`ModelAdapter`; adding a source (a new model zoo)
is one decorated function or class, with no central list to edit. An adapter also answers what
the harness asks about its models: the preprocessing their data needs, and which file holds the
weights (the identity of the dense-accuracy cache). The built-in sources live in
:mod:`.sources`. Hub downloads stay the real code path
(timm ``pretrained=True``, ``from_pretrained``): offline, they fail with one message saying what
is missing and how to supply it. Local checkpoints load from safetensors or with
``torch.load(weights_only=True)``, never by unpickling arbitrary objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import check
from ..errors import TasderUserError
from ..registry import Registry
from ..tasks import Task

__all__ = [
    "ADAPTERS",
    "HF_SUPPLY",
    "ModelAdapter",
    "ModelConfig",
    "ModelLoadError",
    "build_model",
    "hf_load_error",
    "load_checkpoint",
    "register_adapter",
]


class ModelLoadError(TasderUserError, RuntimeError):
    """A model could not be built; the message says what is missing and how to supply it."""


@dataclass
class ModelConfig:
    """What `conf/model/*.yaml` holds (a Hydra structured config schema)."""

    name: str = "reference_resnet"
    source: str = "reference"  # registry key: reference | timm | hf
    architecture: str = "reference_resnet"  # timm name, hub id, or reference name
    pretrained: bool = True
    checkpoint: str | None = None  # local weights: .safetensors, or a torch state dict file
    num_classes: int | None = None
    task: Task = Task.parse("classification")  # a name from tasder_plugin.tasks.TASKS
    input_size: tuple[int, ...] | None = None  # (C, H, W) of one image, for cost-only profiles
    metrics: list[str] = field(default_factory=list)  # extra validation metrics, e.g. [f1]
    # causal LMs: tasd=uniform/auto leave the output embedding (lm_head) dense, as Wanda and
    # SparseGPT do; false decomposes it too (a tied input embedding is never changed)
    dense_lm_head: bool = True
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.task = Task.parse(self.task)
        size = self.input_size
        check(size is None or (len(size) >= 1 and all(int(d) >= 1 for d in size)), "input_size",
              f"must list positive sizes, e.g. [3, 224, 224], got {size}")  # fmt: skip
        classes = self.num_classes
        check(classes is None or classes >= 1, "num_classes", f"must be >= 1, got {classes}")
        if size is not None:
            self.input_size = tuple(size)


class ModelAdapter:
    """How one model source builds its models and what it says about them.

    ``loads_directories``: ``build`` reads ``model.checkpoint`` itself when it is a directory (a
    ``save_pretrained`` folder); weight files are always loaded by :func:`build_model`."""

    loads_directories = False

    def build(self, config: ModelConfig) -> nn.Module:
        raise NotImplementedError

    def preprocessing(self, config: ModelConfig, model: nn.Module) -> dict:
        """What the data builders need for this model: ``data_config`` (timm transforms),
        ``tokenizer``, ``image_processor``; nothing by default."""
        return {}

    def weights_file(self, config: ModelConfig) -> str | None:
        """The file or folder the weights come from (None: random or hub weights)."""
        return config.checkpoint


class _FunctionAdapter(ModelAdapter):
    """An adapter from a plain ``fn(config) -> nn.Module`` (the short way to add a source)."""

    def __init__(self, build, loads_directories: bool):
        self.build, self.loads_directories = build, loads_directories


ADAPTERS: Registry[ModelAdapter] = Registry("model.source")


def register_adapter(source: str, *, checkpoint_dirs: bool = False):
    """Decorator registering a :class:`ModelAdapter` subclass, or ``fn(config) -> nn.Module``
    (``checkpoint_dirs=True``: it loads a ``model.checkpoint`` directory itself), for
    ``model.source=source``."""

    def decorate(target):
        is_class = isinstance(target, type) and issubclass(target, ModelAdapter)
        ADAPTERS.add(source, target() if is_class else _FunctionAdapter(target, checkpoint_dirs))
        return target

    return decorate


def build_model(config: ModelConfig) -> nn.Module:
    """Build the model in eval mode, with its checkpoint loaded when one is given."""
    adapter = ADAPTERS.get(config.source)
    is_dir = bool(config.checkpoint) and Path(config.checkpoint).expanduser().is_dir()
    if is_dir and not adapter.loads_directories:
        raise ModelLoadError(
            f"model.checkpoint={config.checkpoint} is a directory; {config.source} models load "
            "a weights file (.safetensors, or a torch state dict)"
        )
    model = adapter.build(config)
    if config.checkpoint and not is_dir:
        _load_into(model, load_checkpoint(config.checkpoint), config)
    return model.eval()


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], config: ModelConfig) -> None:
    """``load_state_dict`` whose error names what does not fit in one line (counts and the
    first keys), where torch's message spans many lines."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    problems = [
        f"{len(keys)} {what} (e.g. {', '.join(repr(k) for k in keys[:3])})"
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("keys of another shape", shapes),
        )  # fmt: skip
        if keys
    ]
    if problems:
        raise ModelLoadError(
            f"checkpoint {config.checkpoint} does not fit {config.name}: {'; '.join(problems)}"
        )
    model.load_state_dict(state)


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or from a torch file with ``weights_only=True``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"checkpoint not found: {path} (model.checkpoint=...)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt or foreign files fail in many library-specific ways
        raise ModelLoadError(
            f"cannot read checkpoint {path}: {type(err).__name__}: {err}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # Lightning / timm training checkpoints
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"checkpoint {path} does not hold a state dict of tensors")
    return state


def offline_error(
    what: str, config: ModelConfig | str, err: Exception, supply: str | None = None
) -> ModelLoadError:
    """The one message for hub files that cannot be fetched (``config``: the model config, or
    the hub id itself); ``supply`` says how to bring them."""
    supply = supply or (
        "Supply local weights with model.checkpoint=/path/to/weights.safetensors, or use random "
        "weights with model.pretrained=false"
    )
    name = config if isinstance(config, str) else config.architecture
    return ModelLoadError(
        f"{what} {name!r} needs files from the Hugging Face hub, which is not "
        f"reachable ({type(err).__name__}). {supply}"
    )


def hf_load_error(err: OSError, hub_id: str, local: Path | None, supply: str) -> ModelLoadError:
    """What a failed HuggingFace ``from_pretrained`` means: a local folder that does not load,
    or a hub id that cannot be fetched offline."""
    if local is not None and local.is_dir():
        first = str(err).strip().splitlines()[0]
        return ModelLoadError(f"cannot load a HuggingFace model from {local}: {first}")
    return offline_error("HuggingFace model", hub_id, err, supply)


# A HuggingFace model needs its config (and tokenizer) as well as weights: only a directory helps.
HF_SUPPLY = (
    "Supply a local copy with model.checkpoint=/path/to/saved_pretrained_dir (a directory "
    "written by save_pretrained, holding config, weights and tokenizer)"
)
