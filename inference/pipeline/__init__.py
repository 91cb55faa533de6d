"""Video to motion: ``video`` (decoding) -> ``detect`` (MediaPipe Pose) -> ``gaps`` -> ``uplifter``
(ONNX network) -> ``limb_fusion`` / ``proportions`` -> ``world_motion`` -> ``smoothing``, run in
order by ``run.convert_video``; the result is a ``motion_clip.MotionClip``, written by its writers."""
