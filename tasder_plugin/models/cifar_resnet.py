"""CIFAR-style ResNets (He et al., CVPR'16, section 4.2), registered with timm.

6n + 2 layers: a 3x3 stem of 16 channels, three stages of n basic blocks at 16, 32 and 64
channels (stride 2 into stages 2 and 3), global average pooling and one linear layer; option-A
shortcuts (identity; strided and zero-padded where the width doubles), so every GEMM is a conv
of the residual path or the classifier. ``timm.create_model("cifar_resnet56")`` after
``import tasder_plugin.models``; 20, 32, 44, 56 and 110 layers. No pretrained weights ship with
the project: ``pretrained=True`` is an error, load a checkpoint instead.
"""

from __future__ import annotations

import torch.nn.functional as F
from timm.models import register_model
from torch import nn

from ..errors import ConfigError

__all__ = ["CifarResNet"]


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.pad:  # option A: the new channels of the shortcut are zeros
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(y + shortcut)


class CifarResNet(nn.Module):
    """``depth`` = 6n + 2 layers for 32x32 (or 28x28) inputs of ``in_chans`` channels."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_chans: int = 3):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(
                f"a CIFAR ResNet has 6n + 2 layers (20, 32, 44, 56, 110), got {depth}"
            )
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_chans, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, width = [], 16
        for i, out in enumerate((16, 32, 64)):
            layers = [
                _Block(width if j == 0 else out, out, 2 if i and j == 0 else 1)
                for j in range(blocks)
            ]
            stages.append(nn.Sequential(*layers))
            width = out
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)
        self.num_classes = num_classes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _create(depth: int, pretrained: bool, kwargs: dict) -> CifarResNet:
    if pretrained:
        raise ConfigError(
            f"cifar_resnet{depth} has no pretrained weights: use pretrained=False and load a "
            "checkpoint (model.checkpoint=...)"
        )
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):  # timm's factory
        kwargs.pop(key, None)
    return CifarResNet(depth, **kwargs)


@register_model
def cifar_resnet20(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _create(20, pretrained, kwargs)


@register_model
def cifar_resnet32(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _create(32, pretrained, kwargs)


@register_model
def cifar_resnet44(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _create(44, pretrained, kwargs)


@register_model
def cifar_resnet56(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _create(56, pretrained, kwargs)


@register_model
def cifar_resnet110(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _create(110, pretrained, kwargs)
