"""The project's promises about itself: README and CI agree, imports stay layered, lint is clean."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_test_command_readme_gives():
    test_block = readme_commands()[1]  # the README's second command installs and tests
    readme_test = test_block.strip().splitlines()[-1].split("&&")[-1].strip()
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ci_lines[-1] == readme_test


def test_tasd_core_imports_nothing_but_torch():
    """tasder_plugin/tasd is the math only: its modules import the stdlib, torch and each other."""
    allowed = set(sys.stdlib_module_names) | {"torch", "__future__"}
    for path in (ROOT / "tasder_plugin" / "tasd").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"


def test_public_api_names_are_exported():
    import tasder_plugin

    for name in ("TASDSeries", "NMPattern", "decompose", "approximate", "nm_mask", "tasd_stats"):
        assert name in tasder_plugin.__all__ and hasattr(tasder_plugin, name)


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
