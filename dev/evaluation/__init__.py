"""Scoring and benchmarks: metrics, synthetic held-out evaluation, rendered-footage evaluation and
diagnosis, the IK baseline and the speed benchmark."""
