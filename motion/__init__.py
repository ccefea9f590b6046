"""The motion layer: continuous pose streams, SMPL fitting of joint positions, and dance metrics (headless)."""
