"""Drive SCALE-Sim v3 (PyPI ``scalesim`` 3.0.0) on GEMM topologies; per-layer compute cycles."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

_CONFIG = """[general]
run_name = tasder

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = 64
FilterSramSzkB = 64
OfmapSramSzkB = 64
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = 10
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = true
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 4
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""


def compute_cycles(tmp: Path, dataflow: str, rows: int, cols: int, layers) -> list[int]:
    """``layers``: (M, N, K, "n:m") rows; returns SCALE-Sim's compute cycles per layer
    (``get_compute_report_items()[1]``; ``get_total_cycles()`` is broken in 3.0.0)."""
    from scalesim.scale_sim import scalesim

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "hw.cfg").write_text(_CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
    (tmp / "layout.csv").write_text("Layer, unused\n")
    body = "".join(f"l{i}, {m}, {n}, {k}, {p},\n" for i, (m, n, k, p) in enumerate(layers))
    (tmp / "gemm.csv").write_text("Layer, M, N, K, Sparsity,\n" + body)
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(
            save_disk_space=True,
            verbose=False,
            config=str(tmp / "hw.cfg"),
            topology=str(tmp / "gemm.csv"),
            layout=str(tmp / "layout.csv"),
            input_type_gemm=True,
        )
        sim.run_scale(top_path=str(tmp))
    return [int(o.get_compute_report_items()[1]) for o in sim.runner.single_layer_sim_object_list]
