"""Hardware specs (``conf/hw/*.yaml``) and the analytic cost model (cycles, energy, EDP).

Imports neither Lightning nor Hydra: numpy, PyYAML and the TASD pattern types only.
"""

from .cover import cover, covers, k_eff, metadata_bits
from .load import HW_DIR, hardware_from_dict, hardware_names, load_hardware
from .mapping import LayerMapping, Pass, map_layer
from .model import bound_names, evaluate
from .report import Comparison, CostReport, LayerCost, cost_candidates, estimate_cost
from .shapes import Axis, LayerShape
from .spec import HardwareSpec
from .table import CandidateTable, build_table
from .traffic import DRAM_OPERANDS, LayerTraffic

__all__ = [
    "Axis",
    "CandidateTable",
    "Comparison",
    "CostReport",
    "DRAM_OPERANDS",
    "HW_DIR",
    "HardwareSpec",
    "LayerCost",
    "LayerMapping",
    "LayerShape",
    "LayerTraffic",
    "Pass",
    "bound_names",
    "build_table",
    "cost_candidates",
    "cover",
    "covers",
    "estimate_cost",
    "evaluate",
    "hardware_names",
    "k_eff",
    "load_hardware",
    "hardware_from_dict",
    "map_layer",
    "metadata_bits",
]
