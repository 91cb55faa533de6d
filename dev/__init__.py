"""Development only, never shipped (excluded from the extension zip) and never imported by shipped code:
``training`` (the torch network, synthesis, training, ONNX export), ``evaluation`` (scores and
benchmarks), ``footage`` (rendered clips with exact ground truth; ``footage/render`` runs inside
Blender / bpy) and ``cli`` (``uplift-dev``: ``uplift`` plus the development commands)."""
