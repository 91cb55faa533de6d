"""What a conversion can fail with: every failure a user can cause or fix is a ``PipelineError`` with a one-line
message; ``Cancelled`` when the caller asked to stop. ``failure_kind`` sorts failures for exit codes."""
from __future__ import annotations

from .video import VideoError


class PipelineError(Exception):
    """A conversion that cannot be done; ``str(err)`` is a one-line reason for the user."""


class NoPersonError(PipelineError):
    """The video (or landmarks file) has no frame with a person in it."""


class Cancelled(Exception):
    """The caller set the cancel event."""


def failure_kind(err: PipelineError) -> str:
    """What a conversion failure was about: "no_person", "input" (video missing or unreadable) or "failed"."""
    if isinstance(err, NoPersonError):
        return "no_person"
    if isinstance(err.__cause__, VideoError) or "no such file" in str(err):
        return "input"
    return "failed"
