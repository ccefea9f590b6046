"""Where the product looks for its bundled assets and the user's weights (relative to the repository root)."""

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[1]
CHECKPOINT_DIR: Path = REPO_ROOT / "checkpoint"
"""Users put weights here: the EDSA checkpoint and, optionally, official SMPL body files."""
DEFAULT_CHECKPOINT: Path = CHECKPOINT_DIR / "edsa_adapter_checkpoint.chkpt"
ASSETS_DIR: Path = REPO_ROOT / "assets"
DEFAULT_BANK: Path = ASSETS_DIR / "bank"
"""The bundled pose bank built from free motion capture."""
DEMO_SONG: Path = ASSETS_DIR / "demo" / "demo_song.flac"
"""The bundled demo song."""
