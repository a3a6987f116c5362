"""Replay the recorded outputs of unchanged network blocks instead of recomputing them.

A sensitivity measurement runs the model with one layer changed from a plan it has already run
(dense). Every block before that layer sees exactly the inputs it saw then, and so computes
exactly the outputs it computed then. Recorded once, those outputs are replayed: a block holding
none of the differing layers, whose input equals the recorded one bit for bit (``torch.equal``),
returns the recorded output. Results are identical to a full forward; the saving is the prefix
of the network, about half of each sensitivity forward on average. (Budget checks run whole
plans on many more samples: there, recording costs about what replay saves, measured.)

Blocks are the innermost children of the model and of every ``nn.Sequential`` /
``nn.ModuleList`` (stems, ResNet blocks, transformer blocks) called with one tensor and returning
one; anything else simply runs. A recording keeps at most ``max_bytes`` of activations (blocks
past that run).
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


def _holds(block: str, layer: str) -> bool:
    return layer == block or layer.startswith(block + ".")


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

    @contextmanager
    def run(
        self, source: Recording | None, changed: set[str], target: Recording | None = None
    ) -> Iterator[None]:
        """During the block, blocks holding none of ``changed`` return ``source``'s output for a
        bit-identical input (same forwards, in the same order, as it recorded); every block's
        (input, output) goes to ``target``."""
        counters: dict[str, int] = {}
        for fqn, module in self.blocks.items():
            replayable = source is not None and not any(_holds(fqn, c) for c in changed)
            module.forward = self._wrap(fqn, module.forward, source if replayable else None,
                                        target, counters)  # fmt: skip
        try:
            yield
        finally:
            for module in self.blocks.values():
                del module.forward

    def _wrap(self, fqn, forward, source, target, counters):
        def run(*args, **kwargs):
            k = counters.get(fqn, 0)
            counters[fqn] = k + 1
            single = len(args) == 1 and not kwargs and isinstance(args[0], torch.Tensor)
            out = None
            if single and source is not None:
                calls = source.calls.get(fqn, [])
                record = calls[k] if k < len(calls) else None
                if (
                    record is not None
                    and args[0].shape == record[0].shape
                    and torch.equal(args[0], record[0])
                ):
                    out = record[1].clone()  # a clone: later in-place ops must not touch it
            if out is None:
                out = forward(*args, **kwargs)
            if target is not None:
                self._keep(target, fqn, args[0] if single else None, out)
            return out

        return run

    def _keep(self, target: Recording, fqn: str, x, out) -> None:
        kept = None
        if x is not None and isinstance(out, torch.Tensor):
            size = _nbytes(x) + _nbytes(out)
            if target.bytes + size <= self.max_bytes:
                target.bytes += size
                kept = (x.clone(), out.clone())
        target.calls.setdefault(fqn, []).append(kept)
