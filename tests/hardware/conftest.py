"""Fixtures: specs derived from the shipped presets, tiny GEMM profiles."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tasder_plugin.hardware import HW_DIR, load_hardware
from tasder_plugin.profile import GemmRecord, ModelProfile

HUGE = 1 << 40


def record(M, N, K, *, density=1.0, fqn="layer", groups=1, weight=True) -> GemmRecord:
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
    )


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
    """``make_hw(preset, name=..., huge_buffers=True, **overrides)`` -> a loaded spec."""
    counter = iter(range(1000))

    def make(preset: str = "dense", *, huge_buffers: bool = False, **overrides):
        data = yaml.safe_load((HW_DIR / f"{preset}.yaml").read_text())
        if huge_buffers:
            for b in data["buffers"]:
                b["size_bytes"] = HUGE
                b["bandwidth_bytes_per_cycle"] = 1.0e12
            data["dram"]["bandwidth_bytes_per_s"] = 1.0e30
        data = _merge(data, overrides)
        path = tmp_path / f"hw{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_hardware(path)

    return make
