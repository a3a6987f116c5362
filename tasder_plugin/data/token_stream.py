"""Text as one token stream in fixed windows: what causal-LM perplexity is measured on.

As Wanda and SparseGPT measure it: the documents are joined (``"\\n\\n"``), tokenised once, and
cut into non-overlapping windows of ``data.seq_len`` tokens; a trailing partial window is
dropped. Calibration windows never overlap evaluation windows: from a single stream
(``pydocs``, ``textfile``) they are its last ``calib_windows`` windows and evaluation reads the
windows before them; from a hub dataset (``wikitext2``) they come from another split.
Batches are ``({"input_ids": (B, seq_len)}, window index)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ..config import check
from .common import DataConfig, DataError, EvalData, register_data

__all__ = [
    "TextFileConfig",
    "TokenStreamConfig",
    "TokenWindows",
    "eval_data",
    "lm_tokenizer",
    "pydocs_text",
    "split_stream",
    "tokenize",
    "windows",
]


@dataclass(frozen=True, kw_only=True)
class TokenStreamConfig(DataConfig):
    """What ``conf/data/*.yaml`` holds for every token-stream kind (``pydocs``)."""

    seq_len: int = 512  # tokens per window (2048 for parity with published LLaMA numbers)
    eval_windows: int | None = None  # evaluate the first N windows (None: every one)
    calib_windows: int = 0  # calibration windows, for a search (0: none)
    batch_size: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.seq_len >= 2, "seq_len", f"must be >= 2 (a token and its successor), got "
              f"{self.seq_len}")  # fmt: skip
        evals = self.eval_windows
        check(evals is None or evals >= 1, "eval_windows", f"must be >= 1 or null, got {evals}")
        check(self.calib_windows >= 0, "calib_windows", f"must be >= 0, got {self.calib_windows}")


@dataclass(frozen=True, kw_only=True)
class TextFileConfig(TokenStreamConfig):
    """``data=textfile``: one UTF-8 file as the stream."""

    path: str | None = None  # required: data.path=/path/to/text.txt


class TokenWindows(Dataset):
    """Windows of one token stream; item ``i`` is ``({"input_ids": window}, i)``."""

    def __init__(self, windows: torch.Tensor):
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int):
        return {"input_ids": self.windows[i]}, i


def windows(ids: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Non-overlapping ``(count, seq_len)`` windows of a 1-D stream; the partial tail dropped."""
    count = len(ids) // seq_len
    return ids[: count * seq_len].view(count, seq_len)


def tokenize(tokenizer, text: str) -> torch.Tensor:
    """The whole text as one 1-D stream of token ids (no truncation: the windows cut it)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "sequence longer than the model's maximum": intended
    try:
        return torch.as_tensor(tokenizer(text, return_attention_mask=False)["input_ids"])
    finally:
        hf_logging.set_verbosity(level)


def lm_tokenizer(spec: TokenStreamConfig, model_facts: dict):
    """The causal LM's tokenizer; a window longer than the model can read fails here."""
    tokenizer = model_facts.get("tokenizer")
    if tokenizer is None or not model_facts.get("next_token"):
        raise DataError(
            f"data={spec.name} is a token stream for a causal language model with a tokenizer "
            "(e.g. model=smollm2)"
        )
    limit = model_facts.get("max_positions")
    if limit is not None and spec.seq_len > limit:
        raise DataError(
            f"data.seq_len={spec.seq_len} is longer than the model reads ({limit} positions); "
            f"set data.seq_len<={limit}"
        )
    return tokenizer


def _loader(spec: TokenStreamConfig, part: torch.Tensor) -> DataLoader:
    return DataLoader(TokenWindows(part), batch_size=spec.batch_size, shuffle=False,
                      num_workers=spec.num_workers)  # fmt: skip


def eval_data(spec: TokenStreamConfig, evaluation: torch.Tensor, calib: torch.Tensor | None):
    """The loaders over the evaluation windows (the first ``eval_windows``) and calibration."""
    if spec.eval_windows is not None:
        evaluation = evaluation[: spec.eval_windows]
    if len(evaluation) == 0:
        raise DataError(f"data={spec.name}: no evaluation window of {spec.seq_len} tokens")
    calib_loader = _loader(spec, calib) if calib is not None and len(calib) else None
    return EvalData(spec.name, calib_loader, _loader(spec, evaluation))


def split_stream(spec: TokenStreamConfig, ids: torch.Tensor, where: str) -> EvalData:
    """One stream: calibration is its last ``calib_windows`` windows, evaluation those before."""
    cut = windows(ids, spec.seq_len)
    evals = 1 if spec.eval_windows is None else spec.eval_windows
    if len(cut) < spec.calib_windows + evals:
        raise DataError(
            f"data={spec.name}: {where} gives {len(ids)} tokens, {len(cut)} windows of "
            f"{spec.seq_len}; {spec.calib_windows} calibration + {evals} evaluation windows "
            "need more (lower data.seq_len, data.calib_windows or data.eval_windows)"
        )
    split = len(cut) - spec.calib_windows
    return eval_data(spec, cut[:split], cut[split:])


def pydocs_text() -> str:
    """Python's own documentation topics (``pydoc_data.topics``), in a fixed order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


@register_data("pydocs", TokenStreamConfig)
def _pydocs(spec: TokenStreamConfig, model_facts: dict) -> EvalData:
    ids = tokenize(lm_tokenizer(spec, model_facts), pydocs_text())
    return split_stream(spec, ids, "pydoc_data.topics")


@register_data("textfile", TextFileConfig)
def _textfile(spec: TextFileConfig, model_facts: dict) -> EvalData:
    if not spec.path:
        raise DataError(f"data={spec.name}: set data.path=/path/to/text.txt")
    path = Path(spec.path).expanduser()
    if not path.is_file():
        raise DataError(f"data={spec.name}: data.path names no file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"data={spec.name}: cannot read {path} as UTF-8 text: {err}") from None
    return split_stream(spec, tokenize(lm_tokenizer(spec, model_facts), text), str(path))
