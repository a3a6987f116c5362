"""TASDCallback on a LightningModule that knows nothing about this project."""

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tasder_plugin import ModelPlan
from tasder_plugin.lightning import TASDCallback


class ForeignClassifier(pl.LightningModule):
    """A user's own module: an MLP under ``self.net``, its own metric names."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("my_val_loss", F.cross_entropy(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("my_test_loss", F.cross_entropy(self(x), y))


def loader():
    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(64, 16, generator=gen), torch.randint(0, 4, (64,), generator=gen)
    )
    return DataLoader(data, batch_size=16)


def trainer(callback):
    return pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, callbacks=[callback]
    )


def test_callback_applies_costs_logs_and_restores():
    module = ForeignClassifier()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    callback = TASDCallback(lambda m: ModelPlan.uniform(m, weights="2:4"), hw="vegeta", attr="net")
    out = trainer(callback).validate(module, dataloaders=loader(), verbose=False)[0]
    assert "my_val_loss" in out
    assert out["tasd/layers_weights"] == 2
    assert out["hw/edp_reduction"] > 0 and out["hw/speedup"] >= 1
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key]), key  # dense weights are back


def test_callback_changes_the_evaluated_model_and_works_for_test():
    module = ForeignClassifier()
    dense = trainer(pl.Callback()).test(module, dataloaders=loader(), verbose=False)[0]
    callback = TASDCallback(ModelPlan.uniform(module.net, weights="1:4"), hw="2of4", attr="net")
    tasd = trainer(callback).test(module, dataloaders=loader(), verbose=False)[0]
    assert tasd["my_test_loss"] != dense["my_test_loss"]
    assert "hw/edp_js" in tasd
