"""Rendered footage with exact ground truth: clip manifests, MakeHuman rig data and training windows from
MediaPipe's detections of rendered clips (``windows``); ``render`` is the Blender-side renderer."""
