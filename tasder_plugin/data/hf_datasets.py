"""HuggingFace datasets (GLUE SST-2, CIFAR-10, ImageNet-1k) through ``datasets.load_dataset``.

A config names a hub dataset, its evaluation split and a calibration split cut to a fixed first
slice (disjoint from evaluation: another split). ``data.path`` replaces the hub with a local copy:
a ``save_to_disk`` directory, or a folder of parquet/csv/json files named by split
(``validation.parquet``, ``train-00000-of-00001.parquet``); images may also come from a
class-per-folder ``data.root``. With nothing local or cached and the hub unreachable, the builders
raise :class:`DataError` naming what is missing and these ways to supply it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..config import check
from .common import (
    DataConfig,
    DataError,
    EvalData,
    build_data,
    image_transform,
    make_loader,
    register_data,
)

__all__ = ["HFData", "hub_source", "load_split"]


# max_length: every batch has one shape, so calibration batches stack and the cost profile does
# not depend on which sentences share the first batch; longest: less padding to compute.
_PADDING = ("max_length", "longest")


@dataclass(frozen=True, kw_only=True)
class HFData(DataConfig):
    """What ``conf/data/*.yaml`` holds for the ``hf_text`` and ``hf_image`` kinds."""

    dataset: str | None = None  # hub id
    config: str | None = None  # hub config name (ignored for a local data.path)
    path: str | None = None  # a local copy, in place of the hub
    eval_split: str = "validation"
    calib_split: str | None = None
    calib_size: int = 0  # the calibration split's first rows
    label_column: str = "label"
    limit: int | None = None  # evaluate on the first N rows when set
    text_columns: tuple[str, ...] = ()  # hf_text: one column, or two for sentence pairs
    max_length: int = 128  # hf_text: tokens per sequence, longer ones are truncated
    padding: str = "max_length"  # hf_text: or "longest" (per batch: faster, shapes vary)
    image_column: str = "image"  # hf_image
    root: str | None = None  # hf_image: a class-per-folder copy, in place of the dataset

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.padding in _PADDING, "padding", f"must be one of {', '.join(_PADDING)}")
        check(not self.calib_split or self.calib_split != self.eval_split, "calib_split",
              f"must differ from data.eval_split ({self.eval_split!r}): a search must not see "
              "the samples it is scored on")  # fmt: skip
        check(bool(self.dataset or self.path or self.root), "dataset",
              "is not set: set data.dataset (a hub id) or data.path (a local copy)")  # fmt: skip
        check(self.calib_size >= 0, "calib_size", f"must be >= 0, got {self.calib_size}")
        check(self.max_length >= 1, "max_length", f"must be >= 1, got {self.max_length}")

    def where(self) -> str:
        return hub_source(self)


def hub_source(spec) -> str:
    """Where a spec's rows come from (its ``path``, or hub ``dataset`` and ``config``), for
    messages: ``load_split`` names it in every error."""
    if spec.path:
        return f"local dataset {spec.path}"
    config = f", config {spec.config}" if spec.config else ""
    return f"HF dataset {spec.dataset!r}{config}"


def _quiet_datasets():
    """``datasets`` draws its bars even into logs; show them only where ours would show."""
    import datasets

    from ..progress import quiet_library_bars

    return quiet_library_bars(
        datasets.is_progress_bar_enabled,
        datasets.disable_progress_bars,
        datasets.enable_progress_bars,
    )


def _missing(spec: HFData, split: str, err: Exception, detail: str) -> DataError:
    """Offline with nothing cached, or the hub refused (unknown id, gated dataset)."""
    if isinstance(err, ConnectionError):
        detail = "not in the local cache and the hub is not reachable"
    root = " data.root=/path/to/class/folders," if spec.kind == "hf_image" else ""
    return DataError(
        f"data={spec.name}: split {split!r} of {spec.where()}: {detail} "
        f"({type(err).__name__}). Supply it with{root} data.path=/path/to/copy (a "
        "DatasetDict.save_to_disk directory, or parquet/csv/json files named by split), or "
        "download it once where the hub is reachable (it lands in the HF datasets cache)"
    )


def load_split(spec: HFData, split: str):
    """One split as a ``datasets.Dataset``: from a local copy, the HF cache, or the hub."""
    import datasets

    local = Path(spec.path).expanduser() if spec.path else None
    if local is not None and not local.exists():
        raise DataError(f"data={spec.name}: data.path not found: {local}")
    with _quiet_datasets():
        if local is not None and (local / "dataset_dict.json").is_file():
            saved = datasets.load_from_disk(str(local))
            if split not in saved:
                raise DataError(f"data={spec.name}: {local} has no split {split!r} ({list(saved)})")
            return saved[split]
        if local is not None and (local / "state.json").is_file():
            raise DataError(
                f"data={spec.name}: {local} holds one dataset without splits; save a DatasetDict "
                f"with the splits {split!r} (evaluation) and data.calib_split"
            )
        source = (str(local), None) if local is not None else (spec.dataset, spec.config)
        try:
            return datasets.load_dataset(*source, split=split)
        except ValueError as err:  # unknown split or config: the user's to fix
            raise DataError(
                f"data={spec.name}: {spec.where()}: {str(err).splitlines()[0]}"
            ) from None
        except OSError as err:
            first = str(err).strip().splitlines()[0]
            if local is not None:
                raise DataError(f"data={spec.name}: cannot read {local}: {first}") from None
            raise _missing(spec, split, err, first) from None


def _checked(spec: HFData, table, split: str, columns: list[str], classes: int | None):
    """The split with its columns present and every label a class of the model."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(
            f"data={spec.name}: split {split!r} has no column {missing[0]!r} "
            f"(columns: {table.column_names})"
        )
    labels = table.unique(spec.label_column)
    bad = [y for y in labels if y is None or y < 0 or (classes is not None and y >= classes)]
    if bad:
        raise DataError(
            f"data={spec.name}: split {split!r} has labels {sorted(bad, key=str)[:5]} outside "
            f"0..{'N-1' if classes is None else classes - 1} (unlabelled test split?)"
        )
    return table


def _splits(spec: HFData, columns: list[str], classes: int | None):
    """(calibration rows or None, evaluation rows), cut to calib_size and limit."""
    eval_rows = _checked(spec, load_split(spec, spec.eval_split), spec.eval_split, columns, classes)
    if spec.limit:
        eval_rows = eval_rows.select(range(min(int(spec.limit), len(eval_rows))))
    calib_rows = None
    if spec.calib_split and spec.calib_size:
        calib_rows = load_split(spec, spec.calib_split)
        calib_rows = calib_rows.select(range(min(int(spec.calib_size), len(calib_rows))))
        calib_rows = _checked(spec, calib_rows, spec.calib_split, columns, classes)
    return calib_rows, eval_rows


class _TextRows(Dataset):
    """``(texts, label)`` per row; texts is a tuple of one or two strings (sentence pairs)."""

    def __init__(self, table, text_columns: tuple[str, ...], label_column: str):
        self.texts = list(zip(*(table[c] for c in text_columns)))
        self.labels = list(table[label_column])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.texts[i], self.labels[i]


class _Tokenize:
    """Collates ``(texts, label, index)`` rows into ``(inputs dict, labels, indices)`` (a
    picklable callable, for worker processes)."""

    def __init__(self, tokenizer, max_length: int, padding: str):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.padding = padding

    def __call__(self, rows):
        texts, labels, index = zip(*rows)
        encoded = self.tokenizer(
            *(list(column) for column in zip(*texts)),
            padding=self.padding,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return dict(encoded), torch.tensor(labels), torch.tensor(index)


@register_data("hf_text", HFData)
def _hf_text(spec: HFData, model_cfg: dict) -> EvalData:
    if not 1 <= len(spec.text_columns) <= 2:
        raise DataError(f"data={spec.name}: data.text_columns needs one or two column names")
    tokenizer = model_cfg.get("tokenizer")
    if tokenizer is None or model_cfg.get("num_classes") is None:
        raise DataError(
            f"data={spec.name} needs a text classifier with a tokenizer (e.g. model=bert_sst2; "
            "sentence-embedding models such as minilm use data=sentences)"
        )
    columns = [*spec.text_columns, spec.label_column]
    calib, evaluation = _splits(spec, columns, model_cfg.get("num_classes"))
    collate = _Tokenize(tokenizer, int(spec.max_length), spec.padding)
    rows = (spec.text_columns, spec.label_column)
    return EvalData(
        spec.name,
        None if calib is None else make_loader(_TextRows(calib, *rows), spec, collate),
        make_loader(_TextRows(evaluation, *rows), spec, collate),
    )


class _ImageRows(Dataset):
    """``(transformed RGB image, label)`` per row, decoded on access."""

    def __init__(self, table, image_column: str, label_column: str, transform):
        self.table = table
        self.image_column = image_column
        self.label_column = label_column
        self.transform = transform

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        row = self.table[i]
        return self.transform(row[self.image_column].convert("RGB")), row[self.label_column]


@register_data("hf_image", HFData)
def _hf_image(spec: HFData, model_cfg: dict) -> EvalData:
    if spec.root:  # a class-per-folder copy (e.g. ImageNet val) takes the dataset's place
        folder = {"name": spec.name, "kind": "imagefolder", "root": spec.root,
                  "limit": spec.limit, "batch_size": spec.batch_size,
                  "num_workers": spec.num_workers}  # fmt: skip
        return build_data(folder, model_cfg)
    columns = [spec.image_column, spec.label_column]
    calib, evaluation = _splits(spec, columns, model_cfg.get("num_classes"))
    transform = image_transform(model_cfg)
    rows = (spec.image_column, spec.label_column, transform)
    return EvalData(
        spec.name,
        None if calib is None else make_loader(_ImageRows(calib, *rows), spec),
        make_loader(_ImageRows(evaluation, *rows), spec),
    )
