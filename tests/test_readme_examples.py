"""Every ```python block of README.md runs, and prints exactly the ```text block after it."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    """(code, expected output) for each ```python block followed directly (only whitespace or
    "Output:" between) by a ```text block. Python blocks without an output block are sketches."""
    text = README.read_text()
    blocks = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    pairs = []
    for (lang, code, _, end), (next_lang, output, start, _) in zip(blocks, blocks[1:]):
        between = text[end:start].strip()
        if lang == "python" and next_lang == "text" and between in ("", "Output:"):
            pairs.append((code, output))
    return pairs


def test_readme_has_examples():
    assert len(examples()) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_output_is_real(index, tmp_path, monkeypatch):
    code, expected = examples()[index]
    monkeypatch.chdir(tmp_path)  # examples may write files (plan.yaml)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README example {index}", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip() == expected.strip()


def test_readme_demo_output_is_real(capsys):
    from tasder_plugin.demo import main

    main([])
    printed = capsys.readouterr().out.strip()
    assert f"```text\n{printed}\n```" in README.read_text()
