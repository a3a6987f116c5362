"""Fixtures: specs derived from the shipped presets, tiny GEMM profiles."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tasder_plugin.hardware import HW_DIR, load_hardware
from tasder_plugin.profile import ConvGeometry, GemmRecord, ModelProfile

HUGE = 1 << 40


def record(
    M, N, K, *, density=1.0, fqn="layer", groups=1, weight=True, row=0, conv=None, input_shape=()
) -> GemmRecord:
    return GemmRecord(
        fqn=fqn,
        op="linear" if weight else "matmul",
        M=M,
        N=N,
        K=K,
        groups=groups,
        macs=M * N * K,
        weight_numel=N * K if weight else 0,
        is_weight_gemm=weight,
        input_density=density,
        input_block_nnz_hist={},
        output_shape=(M, N),
        channels_per_group=row,
        input_shape=input_shape,
        conv=conv,
    )


def conv_record(batch, cin, hw, cout, k, stride=1, padding=None, density=1.0) -> GemmRecord:
    """A square conv of a ``batch x cin x hw x hw`` input (padding default: k // 2)."""
    padding = k // 2 if padding is None else padding
    out = (hw + 2 * padding - k) // stride + 1
    geometry = ConvGeometry(
        batch, cin, (hw, hw), (out, out), (k, k), (stride, stride), (padding, padding), (1, 1), 1
    )
    return record(
        batch * out * out, cout, cin * k * k, density=density, row=cin, conv=geometry,
        input_shape=(batch, cin, hw, hw),
    )  # fmt: skip


def profile(*records: GemmRecord) -> ModelProfile:
    return ModelProfile(records=tuple(records))


def _merge(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def make_hw(tmp_path: Path):
    """``make_hw(preset, huge_buffers=True, sizes={...}, **overrides)`` -> a loaded spec."""
    counter = iter(range(1000))

    def make(preset: str = "dense", *, huge_buffers: bool = False, sizes=None, **overrides):
        """``sizes``: {buffer name: size_bytes} applied after ``huge_buffers``."""
        data = yaml.safe_load((HW_DIR / f"{preset}.yaml").read_text())
        if huge_buffers:
            for b in data["buffers"]:
                b["size_bytes"] = HUGE
                b["bandwidth_bytes_per_cycle"] = 1.0e12
            data["dram"]["bandwidth_bytes_per_s"] = 1.0e30
        for b in data["buffers"]:
            b["size_bytes"] = (sizes or {}).get(b["name"], b["size_bytes"])
        data = _merge(data, overrides)
        path = tmp_path / f"hw{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_hardware(path)

    return make
