"""Shared test setup: offline, CPU-only, deterministic."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


pytest_plugins = ["tests.lm_fixtures"]  # tiny causal LMs (tiny_llama_dir) for any test
