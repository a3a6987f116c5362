"""The Markdown model card of a reference checkpoint, rendered from its JSON card.

The JSON card (written by the training command) is the record; the Markdown card says the same
for a reader: what the model is, what it was trained and evaluated on, how to reproduce it, and
what it is not for. Rendering is deterministic, so a test can check the committed pair agrees.
"""

from __future__ import annotations

from ..data.bundled import BUNDLED_DATASETS

__all__ = ["render_model_card"]


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_model_card(card: dict) -> str:
    """Markdown for the JSON ``card`` of one reference checkpoint."""
    name, dataset = card["model"], card.get("dataset", "digits")
    origin = (
        f"pruned from `{card['pruned_from']}` to {_percent(card['weight_sparsity'])} "
        "unstructured weight sparsity (global magnitude, gradual, then fine-tuned with fixed masks)"
        if "pruned_from" in card
        else "trained from scratch"
    )
    images = f" ({card['train_samples']} images)" if "train_samples" in card else ""
    rows = [
        ("architecture", f"timm `{card['architecture']}` (one input channel, ten classes)"),
        ("training", f"{origin}; {card['epochs']} epochs on the train split{images}"),
        ("dataset", f"{BUNDLED_DATASETS[dataset].description}; fixed train / calib / eval split"),
        ("top-1, eval split", _percent(card["eval_top1"])),
        ("top-1, calib split", _percent(card["calib_top1"])),
        ("weight sparsity", _percent(card.get("weight_sparsity", 0.0))),
        ("reproduce", f"`{card['command']} --out DIR`"),
        ("versions", f"torch {card['torch']}, timm {card['timm']}, Python {card['python']}"),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"""# {name}

A TASDER reference model (`model={name}`), for developing and testing structured-sparse
decompositions and their search offline. A search may look at the calib split only; the eval
split reports accuracy.

| | |
|---|---|
{table}

Not for recognising digits in any real use: it has seen only its small training split. Training
is deterministic at a fixed thread count on one machine; another CPU may write other bytes and
move top-1 by a few tenths of a point.
"""
