"""The lm-eval model type ``tasder``: a local task YAML over a local JSON dataset, offline.

What it must do: score the decomposed model (not the dense one), record the cost next to the
task metrics, equal ``--model hf`` exactly when nothing is decomposed, and name a mistake in one
line.
"""

from __future__ import annotations

import json
import math
import sys

import pytest

pytest.importorskip("lm_eval")

from lm_eval import simple_evaluate  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from tasder_plugin.errors import ConfigError, TasderUserError  # noqa: E402
from tasder_plugin.lmeval import register  # noqa: E402

pytestmark = pytest.mark.slow  # lm-eval builds its task index once per process (~seconds)

QUESTIONS = [
    ("Which keyword leaves a loop early?", ["break", "continue", "pass", "yield"], 0),
    ("Which keyword skips to the next iteration?", ["return", "continue", "raise", "del"], 1),
    ("Which statement does nothing?", ["assert", "global", "pass", "with"], 2),
    ("Which keyword defines a function?", ["class", "lambda", "import", "def"], 3),
]
MODEL_ARGS = "seq_len=32,stats_windows=2,prefix_token_id=0"  # the WordPiece vocabulary has no EOS


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    """A task folder for lm-eval's ``include_path``: multiple choice and rolling perplexity."""
    folder = tmp_path_factory.mktemp("lm_eval_tasks")
    mc = folder / "quiz.jsonl"
    mc.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n"
                          for q, c, a in QUESTIONS))  # fmt: skip
    text = folder / "text.jsonl"
    text.write_text("".join(json.dumps({"text": q + " " + c[a]}) + "\n" for q, c, a in QUESTIONS))
    (folder / "quiz.yaml").write_text(f"""task: tasder_quiz
dataset_path: json
dataset_kwargs:
  data_files:
    test: {mc}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
""")
    (folder / "text.yaml").write_text(f"""task: tasder_text
dataset_path: json
dataset_kwargs:
  data_files:
    test: {text}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: word_perplexity
""")
    return folder


@pytest.fixture(scope="module")
def task_manager(tasks):
    """Only the local tasks: lm-eval's own index of thousands of YAML files takes ~10 s."""
    return TaskManager(include_path=str(tasks), include_defaults=False)


def _evaluate(task_manager, model: str, model_args: str, task: str = "tasder_quiz") -> dict:
    register()
    return simple_evaluate(
        model=model, model_args=model_args, tasks=[task], batch_size=4, device="cpu",
        task_manager=task_manager, log_samples=True,
    )  # fmt: skip


def _build(model_args: str):
    """The model type as lm-eval builds it from ``--model_args``, without any task."""
    from lm_eval.api.registry import get_model

    register()
    return get_model("tasder").create_from_arg_string(model_args, {"device": "cpu"})


def _loglikelihoods(results: dict, task: str = "tasder_quiz") -> list:
    return [r for sample in results["samples"][task] for r in sample["filtered_resps"]]


def test_a_decomposed_model_is_scored_with_its_cost(task_manager, tiny_llama_dir):
    args = f"pretrained={tiny_llama_dir},weights=2:4+1:8,hw=vegeta,{MODEL_ARGS}"
    tasd = _evaluate(task_manager, "tasder", args)
    dense = _evaluate(task_manager, "hf", f"pretrained={tiny_llama_dir},prefix_token_id=0")
    assert _loglikelihoods(tasd) != _loglikelihoods(dense)  # the decomposed model was scored
    assert 0.0 <= tasd["results"]["tasder_quiz"]["acc,none"] <= 1.0
    record = tasd["config"]["tasder"]
    assert record["hw"] == "vegeta"
    assert record["plan"] == {"kind": "uniform", "weights": "2:4+1:8", "activations": None}
    assert record["cost"] == {"phase": "prefill", "batch_size": 1, "seq_len": 32,
                              "stats_windows": 2}  # fmt: skip
    assert list(record["kept_dense"]) == ["lm_head"]
    metrics = record["metrics"]
    assert metrics["tasd/layers_weights"] == 14  # 7 block GEMMs x 2 layers, lm_head dense
    assert metrics["hw/edp_js"] > 0 and math.isfinite(metrics["hw/edp_reduction"])
    assert metrics["hw/edp_js"] != metrics["dense_hw/edp_js"]


def test_nothing_decomposed_scores_exactly_as_hf(task_manager, tiny_llama_dir):
    plain = _evaluate(task_manager, "tasder", f"pretrained={tiny_llama_dir},{MODEL_ARGS}",
                      "tasder_text")  # fmt: skip
    hf = _evaluate(task_manager, "hf", f"pretrained={tiny_llama_dir},prefix_token_id=0",
                   "tasder_text")  # fmt: skip
    assert _loglikelihoods(plain, "tasder_text") == _loglikelihoods(hf, "tasder_text")
    metrics = plain["config"]["tasder"]["metrics"]
    assert metrics["hw/edp_js"] == metrics["dense_hw/edp_js"]  # the dense model, costed


def test_a_saved_plan_and_decode_cost(tiny_llama_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from tasder_plugin import ModelPlan

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    plan = ModelPlan.uniform(model, weights="2:4", targets=["re:.*mlp.*"])
    path = plan.save(tmp_path / "plan.yaml")
    args = f"pretrained={tiny_llama_dir},plan={path},phase=decode,context=16,{MODEL_ARGS}"
    lm = _build(args)
    record = lm.get_model_info()["tasder"]
    assert record["plan"] == {"kind": "plan", "path": str(path)}
    assert record["cost"] == {"phase": "decode", "batch_size": 1, "context": 16}
    assert record["metrics"]["tasd/layers_weights"] == 6  # gate, up, down x 2 layers
    other = ModelPlan.from_dict({**plan.to_dict(), "layers": {"encoder.fc": {"weights": "2:4"}}})
    other_path = other.save(tmp_path / "other.yaml")
    with pytest.raises(ConfigError, match="plan names layer 'encoder.fc', which is not a GEMM"):
        _build(f"pretrained={tiny_llama_dir},plan={other_path},{MODEL_ARGS}")


@pytest.mark.parametrize(
    "args, message",
    [
        ("weights=5:4", "model_args weights"),
        ("weights=2:4,plan=p.yaml", "exclude each other"),
        ("plan=/no/such/plan.yaml", "names no file"),
        ("weights=2:4,phase=prefil", "model_args phase must be one of prefill, decode"),
        ("weights=2:4,cost_batch=0", "model_args cost_batch must be an integer >= 1"),
        ("weights=2:4,hw=no_such_hw", "no_such_hw"),
        ("weights=2:4,seq_len=4096", "seq_len=4096 is longer than the model reads (128"),
        ("tasder_model=smolm2", "tasder_model=smolm2 is not a TASDER model config; did you mean"),
        ("tasder_model=minilm", "lm-eval scores causal language models"),
    ],
)
def test_mistakes_are_one_line(tiny_llama_dir, args, message):
    pretrained = "" if "tasder_model" in args else f"pretrained={tiny_llama_dir},"
    with pytest.raises(TasderUserError) as err:
        _build(f"{pretrained}{args}")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_hub_id_offline_is_one_line():
    with pytest.raises(TasderUserError, match="not reachable .* pretrained=/path"):
        _build("pretrained=gpt2,weights=2:4")
    with pytest.raises(ConfigError, match="needs pretrained="):
        _build("weights=2:4")


@pytest.fixture
def command(monkeypatch, capsys):
    """Run ``tasder-lm-eval`` (its ``main``) on the local tasks only: lm-eval's command line
    indexes its thousands of built-in task files first (~10 s), which no test here needs."""
    from functools import partial

    import lm_eval.tasks

    from tasder_plugin.lmeval.__main__ import main

    manager = partial(lm_eval.tasks.TaskManager, include_defaults=False)
    monkeypatch.setattr(lm_eval.tasks, "TaskManager", manager)

    def run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tasder-lm-eval", *argv])
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_the_command_prints_lm_evals_table_then_the_cost(command, tasks, tiny_llama_dir):
    args = f"pretrained={tiny_llama_dir},weights=2:4,hw=2of4,{MODEL_ARGS}"
    code, out, err = command("--model", "tasder", "--model_args", args, "--tasks", "tasder_quiz",
                             "--include_path", str(tasks), "--device", "cpu")  # fmt: skip
    assert code == 0, err[-2000:]
    table, _, cost = out.partition("tasder | hw 2of4")
    assert "tasder_quiz" in table and "acc" in table
    assert "plan kind=uniform, weights=2:4" in cost
    assert "per prefill (1 sequence(s) x 32 tokens)" in cost
    assert "EDP reduction" in cost


def test_the_command_names_a_mistake_in_one_line(command, tasks, tiny_llama_dir):
    args = f"pretrained={tiny_llama_dir},weights=5:4"
    code, _, err = command("--model", "tasder", "--model_args", args, "--tasks", "tasder_quiz",
                           "--include_path", str(tasks))  # fmt: skip
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: model_args weights")


def test_the_console_script_is_installed():
    """``tasder-lm-eval`` is the entry point the README uses (pyproject's [project.scripts])."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tasder-lm-eval"]
    assert script.value == "tasder_plugin.lmeval.__main__:main"
