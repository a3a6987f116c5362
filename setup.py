"""Builds the native N:M kernel; everything else is in pyproject.toml.

The kernel is built twice on x86-64 (baseline, and AVX2 picked at run time when the CPU has it).
Both extensions are optional: without a C++ compiler the package still installs and falls back
to a vectorised torch path with identical results (`tasder_plugin.tasd.kernel_available()`).
On POSIX a third extension caches output memory between calls (tasder_plugin/tasd/outputs.py);
without it outputs come from torch.empty.
"""

import os
import platform
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

SOURCE = "tasder_plugin/tasd/_nmkernel.cpp"
# -Wno-psabi: the baseline build passes 32-byte vectors between its own inline functions only.
FLAGS = ["-O3", "-std=c++17", "-fno-strict-aliasing", "-fopenmp", "-Wno-psabi"]


def kernel(module: str, extra_flags: list[str]) -> Extension:
    return Extension(
        f"tasder_plugin.tasd.{module}",
        sources=[SOURCE],
        depends=["tasder_plugin/tasd/_nmkernel_vec.h"],
        language="c++",
        define_macros=[("TASDER_MODULE", module)],
        extra_compile_args=FLAGS + extra_flags,
        extra_link_args=["-fopenmp"],
        optional=True,
    )


extensions = [kernel("_nmkernel", [])]
if platform.machine().lower() in ("x86_64", "amd64"):
    extensions.append(kernel("_nmkernel_avx2", ["-mavx2", "-mfma"]))
if os.name == "posix":  # the output cache maps memory with mmap
    extensions.append(
        Extension(
            "tasder_plugin.tasd._outputpool",
            sources=["tasder_plugin/tasd/_outputpool.cpp"],
            language="c++",
            extra_compile_args=["-O2", "-std=c++17"],
            optional=True,
        )
    )


class build_py_with_conf(build_py):
    """Ships the Hydra config tree conf/ inside the package as tasder_plugin/_conf, so that a
    non-editable install finds it (tasder_plugin/conf_location.py); a checkout and an
    editable install read conf/ itself."""

    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "tasder_plugin" / "_conf"
            shutil.copytree("conf", target, dirs_exist_ok=True)


setup(ext_modules=extensions, cmdclass={"build_py": build_py_with_conf})
