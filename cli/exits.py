"""Exit codes of the ``uplift`` commands, and the per-clip tally a batch turns into one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_NO_PERSON, EXIT_OUTPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 3, 4, 5, 6, 130
# ``run.failure_kind`` (and "output") -> exit code
KIND_EXIT = {"no_person": EXIT_NO_PERSON, "input": EXIT_INPUT, "failed": EXIT_FAILED, "output": EXIT_OUTPUT}


@dataclass
class Tally:
    ok: list[str] = field(default_factory=list)
    failed: list[tuple[str, int]] = field(default_factory=list)

    def code(self) -> int:
        codes = {c for _, c in self.failed}
        return EXIT_OK if not codes else (codes.pop() if len(codes) == 1 else EXIT_FAILED)


def error_line(name, message: str, err: TextIO) -> None:
    print(f"error: {name}: {message}" if name else f"error: {message}", file=err)


def refuse_existing(paths, overwrite: bool) -> str | None:
    """A one-line reason when an output file exists and ``overwrite`` is off (exit code EXIT_OUTPUT or
    EXIT_USAGE, the caller's choice), else None."""
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        return f"{existing[0]} exists{more}: use --overwrite to replace"
    return None
