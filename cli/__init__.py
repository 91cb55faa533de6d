"""The ``uplift`` command line a user runs (shipped): ``main`` dispatches subcommands to ``convert``
(video -> motion files), ``demo`` and ``datacheck``. Imports only the runtime library, lazily."""

from .commands import main  # noqa: F401  (entry point ``uplift_mocap.cli:main``)
