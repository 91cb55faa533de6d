"""`uplift demo` (`make demo`): the pipeline end to end on bundled clips, offline.

1. Video -> motion: the sample video (``samples/sample_walk.mp4``, else the test fixture
   ``tests/fixtures/person_walk.mp4``) through ``pipeline.convert_video`` to a BVH (and npz) in
   ``outputs/demo/``, read back and checked.
2. Mocap -> canonical: a mocap BVH (any known skeleton family) -> canonical skeleton motion ->
   canonical BVH that opens in Blender's importer, read back and checked.
Prints a short summary of each.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..inference.core import skeleton as sk
from ..inference.core.assets import PACKAGE_ROOT, SAMPLES_DIR
from ..inference.mocap.bvh import read_bvh
from ..inference.mocap.bvh_writer import write_bvh
from ..inference.core.frames import BVH_FROM_BLENDER
from ..inference.mocap.convert import bone_direction_errors, convert_bvh

SAMPLE = SAMPLES_DIR / "cmu_02_01_walk.bvh.gz"
SAMPLE_VIDEOS = (SAMPLES_DIR / "sample_walk.mp4", PACKAGE_ROOT / "tests" / "fixtures" / "person_walk.mp4")


def sample_video() -> Path | None:
    """The first of SAMPLE_VIDEOS that exists and opens as a video (the rendered sample, else the
    test fixture), or None."""
    from ..inference.pipeline.video import VideoError, probe

    for path in SAMPLE_VIDEOS:
        try:
            probe(path)
            return path
        except VideoError:
            continue
    return None


def run(source: Path | None = None, out_dir: Path = Path("outputs/demo"), out=None, video: Path | None = None) -> int:
    """Both demos; exit code 0 when both outputs read back correctly."""
    out = out or sys.stdout
    code = run_video(video, out_dir, out)
    print(file=out)
    return max(code, run_mocap(source, out_dir, out))


def run_video(video: Path | None = None, out_dir: Path = Path("outputs/demo"), out=None) -> int:
    """Convert the sample video to ``out_dir/<name>.bvh`` and ``.npz``; print what came out."""
    from .report import clip_summary, native_logs_silenced
    from ..inference.pipeline.motion_clip import write_clip
    from ..inference.pipeline.run import PipelineError, convert_video

    out = out or sys.stdout
    video = Path(video) if video else sample_video()
    if video is None:
        print(f"video      no sample video ({', '.join(str(p) for p in SAMPLE_VIDEOS)} missing); skipped", file=out)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    with native_logs_silenced() as err:
        try:
            clip = convert_video(video)
        except PipelineError as e:
            print(f"error: {e}", file=err)
            return 1
    name = video.name.split(".")[0]
    paths = write_clip(clip, out_dir, name, ["bvh", "npz"])
    back = read_bvh(paths[0], drop_tpose=False)
    pos, _ = back.forward_kinematics()
    keyed = clip.keyed   # unkeyed frames are filled in the BVH, so compare the keyed ones
    body = [back.names.index(n) for n in clip.joint_names]     # the body's joints (a BVH with fingers has more)
    drift_mm = 1000 * float(np.abs((pos[:, body] @ BVH_FROM_BLENDER)[keyed] - clip.joints[keyed]).max())  # Y-up -> Z-up
    print(f"video      {video.name} -> skeletal motion (MediaPipe 2D -> ONNX uplifter -> world, smoothing)", file=out)
    print(clip_summary(f"converted  {video.name}", clip, paths, indent=" " * 11), file=out)
    print(f"           open {paths[0]} in Blender: File > Import > Motion Capture (.bvh), default settings", file=out)
    print(f"round trip BVH read back: {back.num_frames} frames, max joint drift {drift_mm:.3f} mm", file=out)
    return 0 if back.num_frames == clip.num_frames and drift_mm < 1.0 else 1


def run_mocap(source: Path | None = None, out_dir: Path = Path("outputs/demo"), out=None) -> int:
    """Mocap BVH -> canonical skeleton -> canonical BVH, read back and checked."""
    out = out or sys.stdout
    source = Path(source) if source else SAMPLE
    t0 = time.perf_counter()
    bvh = read_bvh(source)
    motion = convert_bvh(bvh)
    err = bone_direction_errors(motion, motion.info["source_joints"])
    t_convert = time.perf_counter() - t0

    out_dir.mkdir(parents=True, exist_ok=True)
    name = source.name.split(".")[0]
    target = out_dir / f"{name}_canonical.bvh"
    write_bvh(target, motion.local_rot, motion.root_translation, motion.fps, offsets=motion.offsets)

    # Read our own file back: it must be recognised as the canonical skeleton and reproduce the joints.
    back = convert_bvh(read_bvh(target))
    drift_mm = 1000 * float(np.abs(back.joints() - motion.joints()).max())

    joints = motion.joints()
    travel = float(np.linalg.norm(motion.root_translation[-1, :2] - motion.root_translation[0, :2]))
    print(f"input      {source.name}: {bvh.num_frames} frames at {bvh.fps:.1f} fps, {len(bvh.joints)} joints, "
          f"skeleton family {motion.family}{' (added T-pose frame dropped)' if bvh.dropped_tpose else ''}", file=out)
    print(f"canonical  {motion.num_frames} frames, {sk.NUM_JOINTS} joints, {motion.num_frames / motion.fps:.2f} s, "
          f"body height {sk.rest_height(motion.offsets):.2f} m, root travel {travel:.2f} m, "
          f"feet lowest at z = {joints[:, [sk.JOINT_INDEX['foot_l'], sk.JOINT_INDEX['foot_r']], 2].min():.3f} m", file=out)
    print(f"fidelity   bone directions vs the source's own FK: mean {err.mean():.3f} deg, max {err.max():.2f} deg", file=out)
    print(f"output     {target} (canonical BVH, metres, opens in Blender: File > Import > Motion Capture)", file=out)
    print(f"round trip read back as {back.family}: max joint drift {drift_mm:.3f} mm", file=out)
    print(f"time       {1000 * t_convert:.0f} ms to read and convert", file=out)
    return 0 if drift_mm < 1.0 and err.mean() < 2.0 else 1
