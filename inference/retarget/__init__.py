"""Retargeting canonical motion onto other rigs: bone-name mapping presets and detection
(``presets``) and the rotation transfer onto a rig's rest pose (``transfer``). numpy only."""
