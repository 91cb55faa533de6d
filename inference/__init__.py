"""Inference: video -> 2D keypoints -> 3D pose -> joint rotations, in numpy (+ onnxruntime).

Never imports bpy, mathutils or torch, so it runs in Blender, in the ``uplift`` CLI and in tests
alike. Submodules are imported explicitly (``from uplift_mocap.inference import skeleton``).
"""
