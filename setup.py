"""Builds the native N:M kernel; everything else is in pyproject.toml.

The kernel is built twice on x86-64 (baseline, and AVX2 picked at run time when the CPU has it).
Both extensions are optional: without a C++ compiler the package still installs and falls back
to a vectorised torch path with identical results (`tasder_plugin.tasd.kernel_available()`).
"""

import platform

from setuptools import Extension, setup

SOURCE = "tasder_plugin/tasd/_nmkernel.cpp"
FLAGS = ["-O3", "-std=c++17", "-fno-strict-aliasing", "-fopenmp"]


def kernel(module: str, extra_flags: list[str]) -> Extension:
    return Extension(
        f"tasder_plugin.tasd.{module}",
        sources=[SOURCE],
        language="c++",
        define_macros=[("TASDER_MODULE", module)],
        extra_compile_args=FLAGS + extra_flags,
        extra_link_args=["-fopenmp"],
        optional=True,
    )


extensions = [kernel("_nmkernel", [])]
if platform.machine().lower() in ("x86_64", "amd64"):
    extensions.append(kernel("_nmkernel_avx2", ["-mavx2", "-mfma"]))

setup(ext_modules=extensions)
