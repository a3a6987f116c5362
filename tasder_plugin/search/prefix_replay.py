"""Replay the recorded outputs of unchanged network blocks instead of recomputing them.

A sensitivity measurement runs the model with one layer changed from a plan it has already run
(dense). Every block before that layer sees exactly the inputs it saw then, and so computes
exactly the outputs it computed then. Recorded once, those outputs are replayed: a block holding
none of the differing layers, whose input equals the recorded one bit for bit (``torch.equal``),
returns the recorded output. Results are identical to a full forward; the saving is the prefix
of the network, about half of each sensitivity forward on average. (Budget checks run whole
plans on many more samples: there, recording costs about what replay saves, measured.)

Blocks are the innermost children of the model and of every ``nn.Sequential`` /
``nn.ModuleList`` (stem layers, ResNet blocks, timm transformer blocks) called with one tensor
and returning a new one; anything else (keyword arguments, tuples, in-place blocks) simply runs.
A block holding a changed module, or a parameter tied to one, always runs. A recording keeps at
most ``max_bytes`` of activations (blocks past that run).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["PrefixReplay", "Recording"]


def _blocks(model: nn.Module) -> dict[str, nn.Module]:
    """fqn -> module for the innermost children of the root and of sequential containers."""
    found: dict[str, nn.Module] = {}
    seen: set[int] = set()  # a module shared by two containers is wrapped once
    for fqn, module in model.named_modules():
        if module is model or isinstance(module, (nn.Sequential, nn.ModuleList)):
            for name, child in module.named_children():
                if id(child) not in seen:
                    seen.add(id(child))
                    found[f"{fqn}.{name}" if fqn else name] = child
    return {fqn: m for fqn, m in found.items() if not any(o.startswith(fqn + ".") for o in found)}


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@dataclass
class Recording:
    """One run's block (input, output) pairs, per block in call order (None: not kept)."""

    key: tuple  # what was run (the samples, say)
    calls: dict[str, list] = field(default_factory=dict)
    bytes: int = 0


class PrefixReplay:
    """Wraps the model's blocks for one run: replay from a source recording, record a target."""

    def __init__(self, model: nn.Module, max_bytes: int = 256 * 2**20):
        self.max_bytes = max_bytes
        self.blocks = _blocks(model)
        # per block, once: the modules it holds and where its parameters live (ties show there)
        self._holds = {
            fqn: ({id(m) for m in b.modules()}, {p.data_ptr() for p in b.parameters()})
            for fqn, b in self.blocks.items()
        }

    @contextmanager
    def run(
        self, source: Recording | None, changed: list[nn.Module], target: Recording | None = None
    ) -> Iterator[None]:
        """During the block, blocks holding none of the ``changed`` modules (nor a parameter
        tied to theirs) return ``source``'s output for a bit-identical input (same forwards, in
        the same order, as it recorded); every block's (input, output) goes to ``target``."""
        touched = {id(m) for m in changed}
        tied = {p.data_ptr() for m in changed for p in m.parameters()}
        counters: dict[str, int] = {}
        saved = {fqn: module.__dict__.get("forward") for fqn, module in self.blocks.items()}
        try:
            for fqn, module in self.blocks.items():
                modules, params = self._holds[fqn]
                untouched = not (modules & touched or params & tied)
                replay = source if source is not None and untouched else None
                module.forward = self._wrap(fqn, module.forward, replay, target, counters)
            yield
        finally:
            for fqn, module in self.blocks.items():
                if saved[fqn] is None:
                    module.__dict__.pop("forward", None)
                else:
                    module.forward = saved[fqn]

    def _wrap(self, fqn, forward, source, target, counters):
        def run(*args, **kwargs):
            k = counters.get(fqn, 0)
            counters[fqn] = k + 1
            x = args[0] if len(args) == 1 and not kwargs and torch.is_tensor(args[0]) else None
            if x is not None and source is not None:
                calls = source.calls.get(fqn, [])
                record = calls[k] if k < len(calls) else None
                if record is not None and torch.equal(x, record[0]):
                    return record[1].clone()  # a clone: later in-place ops must not touch it
            before = x.clone() if x is not None and target is not None else None
            out = forward(*args, **kwargs)
            if target is not None:
                in_place = torch.is_tensor(out) and x is not None and out.data_ptr() == x.data_ptr()
                self._keep(target, fqn, None if in_place else before, out)
            return out

        return run

    def _keep(self, target: Recording, fqn: str, x, out) -> None:
        """Keep (input as it came in, output); ``x`` None: not replayable (no single tensor
        input, or an in-place block: replaying it would skip its effect on the caller's one)."""
        kept = None
        if x is not None and torch.is_tensor(out):
            size = _nbytes(x) + _nbytes(out)
            if target.bytes + size <= self.max_bytes:
                target.bytes += size
                kept = (x, out.clone())
        target.calls.setdefault(fqn, []).append(kept)
