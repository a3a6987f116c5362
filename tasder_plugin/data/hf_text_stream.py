"""A HuggingFace text dataset as a token stream (``data=wikitext2``): perplexity as Wanda and
SparseGPT measure it on ``wikitext-2-raw-v1``: the evaluation split's rows joined by
``"\\n\\n"``, one stream, non-overlapping windows; calibration windows from another split.
Offline with nothing cached, one line names ``data.path`` (see :func:`.hf_datasets.load_split`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check
from .common import DataError, EvalData, register_data
from .hf_datasets import hub_source, load_split
from .token_stream import TokenStreamConfig, eval_data, lm_tokenizer, tokenize, windows

__all__ = ["HFTextStreamConfig"]


@dataclass(frozen=True, kw_only=True)
class HFTextStreamConfig(TokenStreamConfig):
    """A hub dataset (or its local copy, ``data.path``) read as one stream per split."""

    dataset: str | None = None  # hub id
    path: str | None = None  # a local copy, in place of the hub
    config: str | None = None  # hub config name
    eval_split: str = "test"
    calib_split: str | None = "train"
    text_column: str = "text"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(bool(self.dataset or self.path), "dataset",
              "is not set: set data.dataset (a hub id) or data.path (a local copy)")  # fmt: skip
        check(self.calib_split != self.eval_split, "calib_split",
              f"must differ from data.eval_split ({self.eval_split!r}): a search must not see "
              "the windows it is scored on")  # fmt: skip

    def where(self) -> str:
        return hub_source(self)


def _stream(spec: HFTextStreamConfig, split: str, tokenizer):
    table = load_split(spec, split)
    if spec.text_column not in table.column_names:
        raise DataError(
            f"data={spec.name}: split {split!r} has no column {spec.text_column!r} "
            f"({table.column_names}); set data.text_column"
        )
    return windows(tokenize(tokenizer, "\n\n".join(table[spec.text_column])), spec.seq_len)


@register_data("hf_text_stream", HFTextStreamConfig)
def _hf_text_stream(spec: HFTextStreamConfig, model_facts: dict) -> EvalData:
    tokenizer = lm_tokenizer(spec, model_facts)
    evaluation = _stream(spec, spec.eval_split, tokenizer)
    calib = None
    if spec.calib_split and spec.calib_windows:
        calib = _stream(spec, spec.calib_split, tokenizer)[: spec.calib_windows]
    return eval_data(spec, evaluation, calib)
