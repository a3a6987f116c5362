"""Train the reference digits models and write their checkpoints (reproducible, CPU, minutes).

    python -m tasder_plugin.models.train_reference [--model reference_resnet] [--epochs N]

Sparse variants (``reference_resnet_sp80`` ...) start from the committed dense checkpoint, are
pruned gradually to their global magnitude sparsity and fine-tuned with the masks fixed.

Writes ``checkpoints/<name>.safetensors`` and ``<name>.json`` (command, seed, versions, dense
top-1 on the eval split) atomically, and fails if the accuracy is below the model's bar.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from ..atomic_io import write_atomic, write_text_atomic
from ..data.digits import digits_splits
from .pruning import apply_masks_, global_magnitude_masks, weight_sparsity
from .reference import REFERENCE_MODELS, build_reference, checkpoint_path

_COMMAND = "python -m tasder_plugin.models.train_reference"


def accuracy(model: torch.nn.Module, dataset) -> float:
    model.eval()
    x, y = dataset.tensors
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels: enough to generalise on 32x32 digits."""
    shifts = torch.randint(-2, 3, (2,), generator=gen).tolist()
    return torch.roll(x, shifts=shifts, dims=(2, 3))


def _sparsity_at(epoch: int, epochs: int, target: float) -> float:
    """Gradual pruning (Zhu & Gupta's cubic schedule) over the first half, then held."""
    ramp = max(1, epochs // 2)
    done = min(1.0, (epoch + 1) / ramp)
    return target * (1 - (1 - done) ** 3)


def train(name: str, epochs: int, seed: int, lr: float) -> tuple[torch.nn.Module, dict]:
    """Train a dense reference model from scratch, or prune a sparse one from its dense base."""
    spec = REFERENCE_MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    splits = digits_splits()
    model = spec.create() if spec.prune_from is None else build_reference(spec.prune_from)
    masks = None
    loader = DataLoader(splits["train"], batch_size=64, shuffle=True, generator=gen)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(loader)
    )
    start = time.perf_counter()
    for epoch in range(epochs):
        if spec.prune_from is not None:
            masks = global_magnitude_masks(model, _sparsity_at(epoch, epochs, spec.sparsity))
            apply_masks_(model, masks)
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(augment(x, gen)), y, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            if masks is not None:
                apply_masks_(model, masks)  # pruned weights stay zero
    card = {
        "model": name,
        "architecture": REFERENCE_MODELS[name].architecture,
        "command": f"{_COMMAND} --model {name} --epochs {epochs}",
        "epochs": epochs,
        "pruned_from": spec.prune_from,
        "weight_sparsity": weight_sparsity(model),
        "seed": seed,
        "lr": lr,
        "train_seconds": round(time.perf_counter() - start, 1),
        "eval_top1": accuracy(model, splits["eval"]),
        "calib_top1": accuracy(model, splits["calib"]),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
    }
    return model.eval(), card


def save(model: torch.nn.Module, card: dict, name: str) -> Path:
    path = checkpoint_path(name)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    write_atomic(path, lambda tmp: save_file(state, tmp))
    write_text_atomic(path.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(REFERENCE_MODELS), action="append")
    parser.add_argument("--epochs", type=int, help="default: the model's train_epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, help="default: 3e-3 (dense), 1e-3 (pruning)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.model or sorted(REFERENCE_MODELS):
        epochs = args.epochs or REFERENCE_MODELS[name].train_epochs
        lr = args.lr or (3e-3 if REFERENCE_MODELS[name].prune_from is None else 1e-3)
        model, card = train(name, epochs, args.seed, lr)
        bar = REFERENCE_MODELS[name].min_accuracy
        print(json.dumps(card))
        if card["eval_top1"] < bar:
            print(f"{name}: eval top-1 {card['eval_top1']:.4f} is below {bar}", file=sys.stderr)
            status = 1
            continue
        print(f"wrote {save(model, card, name)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
