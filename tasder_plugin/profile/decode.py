"""The decode step of a causal LM, as a profile input: one new token per sequence against a KV
cache of ``context`` tokens, built by running the real model over real text first.

Profiling that step records what decoding really runs: every weight GEMM at M = batch (one
token per sequence), so each token streams every weight from memory, and the attention GEMMs
(QK^T, AV) against ``context + 1`` cached keys and values.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["decode_step"]


def _tokens(windows: Iterable[torch.Tensor], count: int) -> torch.Tensor:
    """The first ``count`` tokens of consecutive windows (rows of ``(B, T)`` batches)."""
    taken, have = [], 0
    for batch in windows:
        flat = batch.flatten()
        taken.append(flat[: count - have])
        have += len(taken[-1])
        if have == count:
            return torch.cat(taken)
    raise ConfigError(
        f"decode at cost.context needs {count} tokens of evaluation text, the data has {have}: "
        "lower cost.context or cost.batch_size"
    )


@torch.no_grad()
def decode_step(model: nn.Module, windows: Iterable[torch.Tensor], batch: int, context: int):
    """Keyword arguments of one decode step for ``batch`` sequences at ``context`` tokens of
    cache (``windows``: ``input_ids`` batches of real text, read in order)."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and context + 1 > limit:
        raise ConfigError(f"cost.context={context} leaves no position for a new token: the "
                          f"model reads {limit}; set cost.context<{limit}")  # fmt: skip
    ids = _tokens(windows, batch * (context + 1)).view(batch, context + 1)
    out = model(input_ids=ids[:, :context], use_cache=True)
    # transformers 5 names the KV cache ``cache``; earlier releases ``past_key_values``
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    return {"input_ids": ids[:, context:], key: getattr(out, key), "use_cache": True}
