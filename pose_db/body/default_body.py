"""Where the body model comes from when the caller names none: the user's official SMPL file, else the bundled one."""

from __future__ import annotations

from pathlib import Path

from common.paths import ASSETS_DIR, CHECKPOINT_DIR

DEFAULT_BODY_PATH: Path = ASSETS_DIR / "body" / "dancepose_cc0_body.npz"
"""The bundled CC0 body (MakeHuman base mesh rigged as SMPL), built by ``tools/build_default_body.py``."""

DEFAULT_BODY_NAME = "dancepose-cc0"

OFFICIAL_SMPL_FILES: tuple[str, ...] = ("SMPL_NEUTRAL.pkl", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
"""Official neutral SMPL files a user may drop into ``checkpoint/`` (licensed by MPI, not bundled), by preference."""


def default_body_path(checkpoint_dir: Path = CHECKPOINT_DIR) -> Path:
    """The first official SMPL file present in ``checkpoint_dir``, else the bundled CC0 body."""
    return next((checkpoint_dir / n for n in OFFICIAL_SMPL_FILES if (checkpoint_dir / n).is_file()), DEFAULT_BODY_PATH)
