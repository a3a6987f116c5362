"""The project's promises about itself: README and CI agree, lint is clean, the kernel builds.
(That imports stay layered is tests/test_import_graph.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.markdown import blocks_of

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks, _ = blocks_of((ROOT / "README.md").read_text())
    return [block.text for block in blocks if block.lang == "bash"]


def test_ci_runs_exactly_the_test_command_readme_gives():
    test_block = readme_commands()[1]  # the README's second command installs and tests
    readme_test = test_block.strip().splitlines()[-1].split("&&")[-1].strip()
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ci_lines[-1] == readme_test


def test_lint_and_format_are_clean():
    pytest.importorskip("ruff", reason="ruff comes with the dev extra")
    for args in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(ROOT)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_native_kernel_is_built_where_ci_requires_it():
    import os

    from tasder_plugin.tasd.kernel import kernel_available, kernel_name

    if os.environ.get("TASDER_REQUIRE_KERNEL") != "1":
        pytest.skip("set TASDER_REQUIRE_KERNEL=1 to require the native kernel (CI does)")
    assert kernel_available(), "the C++ kernel did not build: see `pip install -e .` output"
    assert kernel_name().startswith("_nmkernel")
    from tasder_plugin.tasd.outputs import output_cache_available

    assert output_cache_available(), "the output cache extension did not build (pip install -e .)"
