"""Fenced blocks of a markdown file: what the README and docs tests read commands and examples
from (one parser for all of them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Block", "blocks_of"]

FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass
class Block:
    lang: str
    line: int  # 1-based line of the opening fence
    lines: list[str]
    before: str  # the text between the previous block and this one

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def blocks_of(text: str) -> tuple[list[Block], str]:
    """The fenced blocks of a markdown text, and its text with their lines blanked."""
    blocks, outside, current, before = [], [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if current is None and match:
            current = Block(match.group(1), number, [], "\n".join(before))
            before = []
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
        else:
            before.append(line)
        outside.append(line if current is None and not match else "")
    return blocks, "\n".join(outside)
