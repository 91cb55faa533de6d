"""``python -m uplift_mocap.cli``: the same as the ``uplift`` command."""
import sys

from .commands import main

sys.exit(main())
