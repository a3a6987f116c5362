"""A non-editable install finds the Hydra config tree: conf/ ships as tasder_plugin/_conf.

Builds the pure-Python part of the wheel (setup.py build_py, no compiler needed) into a temporary
directory and runs from there, outside the checkout, so nothing can fall back to ./conf.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "-d", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return target


def _run(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=site.parent,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_packaged_config_tree_is_complete(installed):
    packaged = installed / "tasder_plugin" / "_conf"
    shipped = {p.relative_to(packaged) for p in packaged.rglob("*.yaml")}
    source = {p.relative_to(ROOT / "conf") for p in (ROOT / "conf").rglob("*.yaml")}
    assert shipped == source


@pytest.mark.slow
def test_library_and_cli_use_the_packaged_config_outside_the_checkout(installed, tmp_path):
    code = (
        "import tasder_plugin; from tasder_plugin.conf_location import conf_dir;"
        "from tasder_plugin import load_hardware;"
        "print(tasder_plugin.__file__); print(conf_dir()); print(load_hardware('vegeta').name)"
    )
    lib = _run(installed, "-c", code)
    assert lib.returncode == 0, lib.stderr
    package_file, conf, hw = lib.stdout.split()
    assert Path(package_file).is_relative_to(installed)  # not the checkout's copy
    assert Path(conf) == installed / "tasder_plugin" / "_conf"
    assert hw == "vegeta"

    cli = _run(
        installed,
        "-m",
        "evaluation",
        "mode=cost",
        "model=resnet18",
        "model.pretrained=false",
        "tasd=uniform",
        "tasd.weights=2:4",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "run" / "results.json").is_file()
