"""Train the reference models and write their checkpoints (deterministic, CPU, minutes).

    python -m tasder_plugin.models.train_reference [--model NAME ...] [--out DIR] [--overwrite]

Training runs on the CPU under a fixed thread count (``--threads``, default 1) whatever the
caller's ``torch.get_num_threads()``: CPU kernels split their reductions (convolution weight
gradients, matmuls, sums) by thread, so the rounding, and after a few hundred steps the weights,
depend on the thread count. With it fixed, one command writes the same bytes on one machine;
another CPU or library version may pick other kernels and write others.

Sparse variants (``reference_resnet_sp80`` ...) start from their dense base: ``DIR/<base>`` when
it is there (trained in the same run, say), else the committed checkpoint. They are pruned
gradually to their global magnitude sparsity and fine-tuned with the masks fixed.

Writes ``DIR/<name>.safetensors``, ``<name>.json`` (command, seed, threads, versions, top-1 on
the eval and calib splits) and the ``<name>.md`` model card, each atomically, and fails if the
eval top-1 is below the model's bar.
The committed checkpoints (the package's ``checkpoints/`` folder) are replaced only with
``--overwrite``: other results in the project were measured on them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset

from ..atomic_io import cannot_write, write_atomic, write_text_atomic
from ..errors import ConfigError, OutputError, TasderUserError, one_line
from .model_card import render_model_card
from .pruning import apply_masks_, global_magnitude_masks, weight_sparsity
from .reference import (
    CHECKPOINT_DIR,
    REFERENCE_MODELS,
    build_reference,
    checkpoint_path,
    reference_spec,
)

_COMMAND = "python -m tasder_plugin.models.train_reference"
DEFAULT_OUT = Path("reference_checkpoints")
LR_DENSE, LR_PRUNING = 3e-3, 1e-3  # peak learning rates: training from scratch, pruning


@contextmanager
def deterministic_cpu(threads: int) -> Iterator[None]:
    """Fixed intra-op threads, deterministic kernels and a private RNG for the block.

    The caller's thread count, deterministic-algorithms flag and global RNG state come back
    afterwards, so training inside a test or a notebook leaves no trace.
    """
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    saved = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])


def accuracy(model: torch.nn.Module, dataset) -> float:
    model.eval()
    x, y = dataset.tensors
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels: enough to generalise on 28x28 or 32x32 digits."""
    shifts = torch.randint(-2, 3, (2,), generator=gen).tolist()
    return torch.roll(x, shifts=shifts, dims=(2, 3))


def _sparsity_at(epoch: int, epochs: int, target: float) -> float:
    """Gradual pruning (Zhu & Gupta's cubic schedule) over the first half, then held."""
    ramp = max(1, epochs // 2)
    done = min(1.0, (epoch + 1) / ramp)
    return target * (1 - (1 - done) ** 3)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _start(spec, base: Path | None) -> tuple[torch.nn.Module, dict]:
    """A fresh model (dense) or the dense base checkpoint (sparse), with where it came from."""
    if spec.prune_from is None:
        return spec.create(), {}
    base = base or checkpoint_path(spec.prune_from)
    model = build_reference(spec.prune_from, checkpoint=base)
    return model, {"pruned_from": spec.prune_from, "pruned_from_sha256": _sha256(base)}


def _fit(model, loader, epochs: int, lr: float, sparsity: float, gen: torch.Generator) -> None:
    """AdamW with a one-cycle schedule; with ``sparsity``, gradual pruning and fixed masks."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(loader)
    )
    masks = None
    for epoch in range(epochs):
        if sparsity:
            masks = global_magnitude_masks(model, _sparsity_at(epoch, epochs, sparsity))
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


def _card(name, epochs, seed, lr, *, threads, samples, train_samples) -> dict:
    """What the model card records besides the results: the command that reproduces the run."""
    options = f"--seed {seed} --lr {lr:g} --threads {threads}"
    if samples is not None:
        options += f" --samples {samples}"
    return {
        "model": name,
        "architecture": REFERENCE_MODELS[name].architecture,
        "dataset": REFERENCE_MODELS[name].dataset,
        "command": f"{_COMMAND} --model {name} --epochs {epochs} {options}",
        "epochs": epochs,
        "seed": seed,
        "lr": lr,
        "threads": threads,
        "train_samples": train_samples,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
    }


def train(
    name: str,
    epochs: int,
    seed: int,
    lr: float,
    *,
    samples: int | None = None,
    threads: int = 1,
    base: Path | None = None,
) -> tuple[torch.nn.Module, dict]:
    """Train a dense reference model from scratch, or prune a sparse one from ``base``.

    ``samples`` keeps the first N training images (quick smoke runs); ``base`` defaults to the
    committed dense checkpoint. Same arguments, same machine: bit-identical weights.
    """
    spec = reference_spec(name)
    splits = spec.splits()
    data = splits["train"]
    if samples is not None:
        data = TensorDataset(*(t[:samples] for t in data.tensors))
    with deterministic_cpu(threads):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model, provenance = _start(spec, base)
        loader = DataLoader(data, batch_size=64, shuffle=True, generator=gen)
        start = time.perf_counter()
        _fit(model, loader, epochs, lr, spec.sparsity, gen)
        seconds = time.perf_counter() - start
        top1 = {f"{split}_top1": accuracy(model, splits[split]) for split in ("eval", "calib")}
    card = _card(name, epochs, seed, lr, threads=threads, samples=samples, train_samples=len(data))
    return model.eval(), {
        **card,
        **provenance,
        "weight_sparsity": weight_sparsity(model),
        "train_seconds": round(seconds, 1),
        **top1,
    }


def save(model: torch.nn.Module, card: dict, name: str, out: Path = DEFAULT_OUT) -> Path:
    """Write ``out/<name>.safetensors``, its JSON card and its Markdown card, each atomically."""
    path = Path(out) / f"{name}.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    try:
        write_atomic(path, lambda tmp: save_file(state, tmp))
        write_text_atomic(path.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
        write_text_atomic(path.with_suffix(".md"), render_model_card(card))
    except OSError as err:
        raise OutputError(f"{cannot_write(err, path)} (choose --out)") from None
    return path


def _committed_in(out: Path, names: list[str]) -> list[str]:
    """The committed checkpoints a run into ``out`` would replace."""
    if out.resolve() != CHECKPOINT_DIR.resolve():
        return []
    return [n for n in names if (out / f"{n}.safetensors").exists()]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_COMMAND,
        description=__doc__.split("\n\n")[0],
        epilog=f"The committed checkpoints live in {CHECKPOINT_DIR}.",
    )
    add = parser.add_argument
    add(
        "--model",
        metavar="NAME",
        choices=sorted(REFERENCE_MODELS),
        action="append",
        help=f"repeatable (default: all): {', '.join(sorted(REFERENCE_MODELS))}",
    )
    add(
        "--out",
        metavar="DIR",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for <NAME>.safetensors and <NAME>.json (default: ./{DEFAULT_OUT})",
    )
    add(
        "--overwrite",
        action="store_true",
        help="allow --out to be the committed checkpoint folder and replace its files",
    )
    add("--epochs", metavar="N", type=_positive, help="default: the model's train_epochs")
    add("--seed", type=int, default=0, help="default: 0")
    lrs = f"default: {LR_DENSE:g} dense, {LR_PRUNING:g} pruning"
    add("--lr", type=float, help=f"peak learning rate ({lrs})")
    add(
        "--threads",
        metavar="N",
        type=_positive,
        default=1,
        help="CPU threads to train with, whatever the caller's; bytes depend on it (default: 1)",
    )
    add(
        "--samples",
        metavar="N",
        type=_positive,
        help="train on the first N training images only, for smoke runs (default: all)",
    )
    return parser


def _order(names: list[str]) -> list[str]:
    """Each model once, dense ones first: a sparse variant prunes the base this run wrote."""
    return sorted(set(names), key=lambda n: (REFERENCE_MODELS[n].prune_from is not None, n))


def _train_and_save(name: str, args) -> bool:
    """One model: train, print its card, save it unless it misses its accuracy floor."""
    spec = REFERENCE_MODELS[name]
    base = None
    if spec.prune_from and (args.out / f"{spec.prune_from}.safetensors").is_file():
        base = args.out / f"{spec.prune_from}.safetensors"
    lr = args.lr or (LR_DENSE if spec.prune_from is None else LR_PRUNING)
    model, card = train(name, args.epochs or spec.train_epochs, args.seed, lr,
                        samples=args.samples, threads=args.threads, base=base)  # fmt: skip
    print(json.dumps(card))
    if card["eval_top1"] < spec.min_accuracy:
        print(f"{name}: eval top-1 {card['eval_top1']:.4f} is below {spec.min_accuracy}",
              file=sys.stderr)  # fmt: skip
        return False
    print(f"wrote {save(model, card, name, args.out)}")
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = _order(args.model or list(REFERENCE_MODELS))
    try:
        committed = _committed_in(args.out, names)
        if committed and not args.overwrite:
            raise OutputError(
                f"refusing to overwrite the committed checkpoints {committed} in {args.out}; "
                "pass --overwrite, or write elsewhere with --out DIR"
            )
        return 0 if all([_train_and_save(name, args) for name in names]) else 1
    except TasderUserError as err:
        print(f"train_reference: {one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
