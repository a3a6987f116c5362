"""Every ```python block of README.md runs, and prints exactly the ```text block after it."""

import contextlib
import io
from pathlib import Path

import pytest

from tests.markdown import blocks_of

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[tuple[str, str]]:
    """(code, expected output) for each ```python block followed directly (only whitespace or
    "Output:" between) by a ```text block. Python blocks without an output block are sketches."""
    blocks, _ = blocks_of(README.read_text())
    return [
        (block.text, after.text)
        for block, after in zip(blocks, blocks[1:])
        if block.lang == "python"
        and after.lang == "text"
        and after.before.strip() in ("", "Output:")
    ]


EXAMPLES = examples()


def test_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_output_is_real(index, tmp_path, monkeypatch):
    code, expected = EXAMPLES[index]
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
