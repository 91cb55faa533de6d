"""Core definitions every other package builds on: the skeleton (``skeleton``), the rotation
conventions (``rotations``, quaternions wxyz), the axis conventions (``frames``), landmark
normalisation (``normalize``) and the shipped asset paths (``assets``). numpy only."""
