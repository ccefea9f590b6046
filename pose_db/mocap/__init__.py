"""Free human motion capture turned into SMPL poses: BVH and DeepMimic sources, retargeting, mirroring, dedup.

``tools/build_default_bank.py`` uses these to build the bundled default bank (``assets/bank/``).
"""
