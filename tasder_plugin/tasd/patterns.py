"""N:M patterns and TASD series as typed values.

Strings such as ``"2:4"``, ``"2:4+1:8"`` and ``"dense"`` are parsed here, once, at the boundary;
everything past it passes :class:`NMPattern` / :class:`TASDSeries` objects.

``n:m`` always means KEEP ``n`` of every ``m`` consecutive values (the NVIDIA/ASP convention).
SparseGPT, Wanda and llm-compressor write the number of *pruned* values first, so their ``1:8``
or ``6:8`` is not ours.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import total_ordering

from ..errors import ConfigError

__all__ = ["NMPattern", "Side", "TASDSeries"]

_TOKEN = re.compile(r"^(\d+):(\d+)$")
_VALID_FORM = (
    "expected 'n:m' meaning keep n of every m values with 1 <= n <= m (e.g. '2:4'), "
    "a series joined by '+' (e.g. '2:4+1:8'), or 'dense'"
)
_DENSE = "dense"


class Side(str, enum.Enum):
    """The operand of a GEMM a series decomposes: the weights (TASD-W, offline) or the input
    activations (TASD-A, on the fly). Compares and hashes as its letter (``Side.W == "W"``)."""

    W = "W"
    A = "A"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@total_ordering
@dataclass(frozen=True)
class NMPattern:
    """Keep the ``n`` largest-magnitude values of every block of ``m`` consecutive values.

    Patterns order by the fraction they keep (then by block size), so ``min(patterns)`` is the
    sparsest one.
    """

    n: int
    m: int

    def __post_init__(self) -> None:
        for name, value in (("n", self.n), ("m", self.m)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"NMPattern.{name} must be an int, got {value!r}")
        if self.m < 1:
            raise ConfigError(f"invalid N:M pattern '{self.n}:{self.m}': block size m must be >= 1")
        if not 1 <= self.n <= self.m:
            raise ConfigError(
                f"invalid N:M pattern '{self.n}:{self.m}': must keep 1 <= n <= m values "
                f"of every m (here keep {self.n} of every {self.m})"
            )

    @classmethod
    def parse(cls, text: str) -> NMPattern:
        """Parse one ``"n:m"`` token; the error names the token and shows the valid form."""
        if not isinstance(text, str):
            raise TypeError(f"an N:M pattern must be a string like '2:4', got {text!r}")
        token = text.strip()
        match = _TOKEN.match(token)
        if match is None:
            raise ConfigError(f"invalid N:M pattern {text!r}: {_VALID_FORM}")
        n, m = int(match.group(1)), int(match.group(2))
        try:
            return cls(n, m)
        except ValueError as err:
            raise ConfigError(f"invalid N:M pattern {text!r}: {_VALID_FORM}") from err

    @property
    def density(self) -> Fraction:
        """Fraction of values kept: exactly n/m."""
        return Fraction(self.n, self.m)

    @property
    def is_dense(self) -> bool:
        """True for ``m:m`` (keeps every value)."""
        return self.n == self.m

    def __str__(self) -> str:
        return f"{self.n}:{self.m}"

    def _key(self) -> tuple[Fraction, int, int]:
        return (self.density, self.m, self.n)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, NMPattern):
            return NotImplemented
        return self._key() < other._key()


@total_ordering
@dataclass(frozen=True)
class TASDSeries:
    """A greedy TASD series: term k keeps ``patterns[k]`` of the residual left by terms < k.

    The empty series is ``dense``: no decomposition, the tensor runs as one dense pass.
    """

    patterns: tuple[NMPattern, ...] = ()

    def __post_init__(self) -> None:
        patterns = tuple(self.patterns)
        for p in patterns:
            if not isinstance(p, NMPattern):
                raise TypeError(f"TASDSeries holds NMPattern objects, got {p!r}")
        object.__setattr__(self, "patterns", patterns)

    @classmethod
    def parse(cls, text: str) -> TASDSeries:
        """Parse ``"2:4"``, ``"2:4+1:8"`` or ``"dense"`` (whitespace around tokens is ignored)."""
        if isinstance(text, TASDSeries):
            return text
        if not isinstance(text, str):
            raise TypeError(f"a TASD series must be a string like '2:4+1:8', got {text!r}")
        stripped = text.strip()
        if stripped.lower() == _DENSE:
            return cls(())
        if not stripped:
            raise ConfigError(f"invalid TASD series {text!r}: empty; {_VALID_FORM}")
        patterns = []
        for position, token in enumerate(stripped.split("+"), start=1):
            if not token.strip():
                raise ConfigError(
                    f"invalid TASD series {text!r}: term {position} is empty; {_VALID_FORM}"
                )
            try:
                patterns.append(NMPattern.parse(token))
            except ValueError:
                raise ConfigError(
                    f"invalid TASD series {text!r}: bad term {token.strip()!r}; {_VALID_FORM}"
                ) from None
        return cls(tuple(patterns))

    @classmethod
    def dense(cls) -> TASDSeries:
        return cls(())

    @property
    def is_dense(self) -> bool:
        """True when there is no decomposition (``dense``)."""
        return not self.patterns

    @property
    def max_density(self) -> Fraction:
        """Upper bound of the fraction of values the series keeps: min(1, sum of n/m).

        Terms have disjoint support, so the kept fraction never exceeds the sum; ``2:4+2:4``
        reaches 1 (exact). ``dense`` keeps everything.
        """
        if self.is_dense:
            return Fraction(1)
        return min(Fraction(1), sum((p.density for p in self.patterns), Fraction(0)))

    def narrow_row_reason(self, channels: int, side: Side) -> str | None:
        """Why this series cannot block rows of ``channels`` values along K (a conv's channels
        per group: blocks never cross a row), or ``None`` when it can."""
        widest = max((p.m for p in self.patterns), default=1)
        if channels >= widest:
            return None
        return (
            f"{side}: rows of {channels} channels along K are narrower than m={widest}; "
            "cannot be blocked"
        )

    def __len__(self) -> int:
        return len(self.patterns)

    def __iter__(self):
        return iter(self.patterns)

    def __getitem__(self, index: int) -> NMPattern:
        return self.patterns[index]

    def __str__(self) -> str:
        return _DENSE if self.is_dense else "+".join(str(p) for p in self.patterns)

    def __repr__(self) -> str:
        return f"TASDSeries.parse({str(self)!r})"

    def _key(self) -> tuple[Fraction, int, str]:
        return (self.max_density, len(self.patterns), str(self))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, TASDSeries):
            return NotImplemented
        return self._key() < other._key()
