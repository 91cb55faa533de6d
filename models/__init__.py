"""Training-side code (torch). May import ``inference``; never imported by ``inference`` or ``addon``."""
