"""``HardwareSpec``: the typed, validated form of one ``conf/hw/<name>.yaml`` file.

Every field is plain data (frozen dataclasses); behaviour lives in the cost functions. Patterns
are parsed to :class:`~tasder_plugin.tasd.NMPattern` here, once. Energies are joules, times
seconds, sizes bytes, bandwidths bytes per cycle (on chip) or bytes per second (DRAM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from ..tasd.patterns import NMPattern

__all__ = [
    "ArraySpec",
    "BitsSpec",
    "BufferSpec",
    "DramSpec",
    "Energy",
    "EnergySpec",
    "HardwareSpec",
    "SelectorSpec",
    "SparsitySpec",
    "TileSpec",
]

# Which operand of the array a one-sided engine compresses: the column operand (the stationary
# one of a weight-stationary array; SCALE-Sim's sparse filters) or the row operand (a sparse
# tensor core's A in mma.sp, VEGETA's sparse A). The compressed side of a layer is placed there,
# swapping the GEMM (O^T = W^T A^T) when its natural place is the other port.
COMPRESSED_PORTS = ("column", "row")
METADATA_FORMATS = ("none", "coordinate", "bitmap", "block_index")
OPERANDS = ("weights", "activations", "outputs", "metadata")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _registry(kind: str):
    """The registry of dataflows, engines or schedules (each lives in its own module, imported
    here and not at the top: they import this module's types)."""
    from . import dataflows, engines, schedules

    return {
        "dataflow": dataflows.DATAFLOWS,
        "engine": engines.ENGINES,
        "schedule": schedules.SCHEDULES,
    }[kind]


@dataclass(frozen=True)
class Energy:
    """One per-action energy in joules, with where the number comes from."""

    value_j: float
    source: str

    def __post_init__(self) -> None:
        _check(self.value_j >= 0, f"energy must be >= 0 J, got {self.value_j}")
        _check(bool(self.source.strip()), "every energy needs a non-empty 'source' note")


@dataclass(frozen=True)
class TileSpec:
    """A tensor-core-like engine: one (m x n x k) tile per ``cycles_per_tile``, plus ``fill``."""

    m: int
    n: int
    k: int
    cycles_per_tile: int = 1
    fill_cycles: int = 0

    def __post_init__(self) -> None:
        for name in ("m", "n", "k", "cycles_per_tile"):
            _check(getattr(self, name) >= 1, f"array.tile.{name} must be >= 1")
        _check(self.fill_cycles >= 0, "array.tile.fill_cycles must be >= 0")


@dataclass(frozen=True)
class ArraySpec:
    """Systolic ``rows x cols`` array (``ws``/``os``/``is``) or a ``tile`` engine."""

    rows: int
    cols: int
    dataflow: str
    tile: TileSpec | None = None
    utilization: float = 1.0  # only the unstructured engine uses it (work / (R C util))

    def __post_init__(self) -> None:
        _check(self.rows >= 1 and self.cols >= 1, "array.rows and array.cols must be >= 1")
        _registry("dataflow").get(self.dataflow)  # a one-line error naming the valid ones
        _check(
            (self.dataflow == "tile") == (self.tile is not None),
            "array.tile is required exactly when array.dataflow is 'tile'",
        )
        _check(0 < self.utilization <= 1, "array.utilization must be in (0, 1]")


@dataclass(frozen=True)
class SparsitySpec:
    """What the engine can skip.

    ``engine``: ``nm`` (N:M on a compressed port), ``block_dual`` (S2TA-like: weights bounded by
    one ``weights`` pattern, activations time-unrolled per block of ``block``), ``unstructured``
    (DSTC-like: work scales with both densities). ``dual``: both operands of one pass may be
    sparse; else one operand per layer (the other runs dense), on ``compressed_port``: the
    array's ``column`` operand (where the weights sit) or its ``row`` operand (where the
    activations sit); the other side runs there via O^T = W^T A^T.
    """

    engine: str = "nm"
    weights: tuple[NMPattern, ...] = ()
    activations: tuple[NMPattern, ...] = ()
    dual: bool = False
    schedule: str = "sequential"
    block: int = 8
    gate_zeros: bool = True
    compressed_port: str = "column"

    def __post_init__(self) -> None:
        _check(
            self.compressed_port in COMPRESSED_PORTS,
            f"sparsity.compressed_port must be one of {COMPRESSED_PORTS}",
        )
        engine = _registry("engine").get(self.engine)
        _registry("schedule").get(self.schedule)
        _check(self.block >= 1, "sparsity.block must be >= 1")
        engine.check(self)


@dataclass(frozen=True)
class BufferSpec:
    """One on-chip SRAM level and the operands it holds."""

    name: str
    size_bytes: int
    bandwidth_bytes_per_cycle: float
    read_j_per_byte: Energy
    write_j_per_byte: Energy
    holds: tuple[str, ...]
    double_buffered: bool = True

    def __post_init__(self) -> None:
        _check(self.size_bytes > 0, f"buffer {self.name!r}: size_bytes must be > 0")
        _check(
            self.bandwidth_bytes_per_cycle > 0,
            f"buffer {self.name!r}: bandwidth_bytes_per_cycle must be > 0",
        )
        bad = [h for h in self.holds if h not in OPERANDS]
        _check(
            not bad and bool(self.holds),
            f"buffer {self.name!r}: holds must list some of {OPERANDS}, got {self.holds}",
        )

    @property
    def usable_bytes(self) -> float:
        return self.size_bytes / 2 if self.double_buffered else self.size_bytes


@dataclass(frozen=True)
class DramSpec:
    bandwidth_bytes_per_s: float
    j_per_bit: Energy
    kind: str = "LPDDR4"

    def __post_init__(self) -> None:
        _check(self.bandwidth_bytes_per_s > 0, "dram.bandwidth_bytes_per_s must be > 0")


@dataclass(frozen=True)
class BitsSpec:
    weight: int = 8
    activation: int = 8
    accumulator: int = 32
    output: int = 8

    def __post_init__(self) -> None:
        for name in ("weight", "activation", "accumulator", "output"):
            _check(getattr(self, name) >= 1, f"bits.{name} must be >= 1")


@dataclass(frozen=True)
class EnergySpec:
    mac_j: Energy
    gated_mac_j: Energy
    register_j_per_bit: Energy


@dataclass(frozen=True)
class SelectorSpec:
    """The online top-n selector of TASD-A at the activation buffer's read port."""

    comparator_j: Energy
    elements_per_cycle: float
    materialize: bool = False

    def __post_init__(self) -> None:
        _check(self.elements_per_cycle > 0, "selector.elements_per_cycle must be > 0")


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    description: str
    clock_hz: float
    array: ArraySpec
    sparsity: SparsitySpec
    bits: BitsSpec
    metadata_format: str
    energy: EnergySpec
    buffers: tuple[BufferSpec, ...]
    dram: DramSpec
    selector: SelectorSpec
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check(self.clock_hz > 0, "clock_hz must be > 0")
        _check(
            self.metadata_format in METADATA_FORMATS,
            f"metadata_format must be one of {METADATA_FORMATS}",
        )
        names = [b.name for b in self.buffers]
        _check(len(set(names)) == len(names), f"buffers: duplicate names in {names}")
        _check(
            not {"mac", "registers", "dram", "metadata", "selector"} & set(names),
            "buffers: a buffer may not be named mac/registers/dram/metadata/selector",
        )
        for operand in ("weights", "activations", "outputs"):
            _check(
                any(operand in b.holds for b in self.buffers), f"buffers: no buffer holds {operand}"
            )

    def buffer_for(self, operand: str) -> BufferSpec | None:
        """The first buffer holding ``operand`` (``None`` for metadata without its own buffer)."""
        return next((b for b in self.buffers if operand in b.holds), None)
