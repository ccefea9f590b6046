"""Units and sizes fixed by the method (MERT-v1-95M at 24 kHz, the EDSA reference pipeline)."""

MODEL_SAMPLE_RATE: int = 24_000
"""Sample rate of all model audio, in Hz."""

WINDOW_SAMPLES: int = 48_480
"""Samples in one model window (2.02 s at 24 kHz), giving 151 model frames."""

HALF_WINDOW: int = WINDOW_SAMPLES // 2
"""Samples either side of a window centre: the window is ``audio[c - HALF_WINDOW : c + HALF_WINDOW]``."""

FRAME_HOP: int = 400
"""Samples per label frame at 24 kHz: frame labels run at 60 frames per second."""

LABEL_FPS: int = MODEL_SAMPLE_RATE // FRAME_HOP
"""Frame labels per second (60)."""

MODEL_FRAMES: int = 151
"""Frames the backbone's convolutional encoder produces from one window."""

POSE_DIM: int = 82
"""Length of a pose vector: 10 SMPL shape coefficients (betas) then 72 axis-angle pose values."""

MAX_SAMPLE_ABS: float = 1e4
"""Largest audio sample magnitude accepted (audio lies nominally within +-1; squares of larger values overflow float32
sums over a window). Live input is clipped to it, a file beyond it is refused."""

NUM_BETAS: int = 10
NUM_JOINTS: int = 24
