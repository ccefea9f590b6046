"""Training of the learned beat/downbeat activation network (torch; the run-time network is numpy, in
:mod:`live.beat_activation`).

- :mod:`model.beat_training.network`: the torch model (causal TCN) and its export to the ``.npz`` weights file;
- :mod:`model.beat_training.dataset`: features and frame targets of a beat-data folder, cached, and chunk sampling;
- :mod:`model.beat_training.train`: the training loop with validation F and best-checkpoint export.

The CLI is ``tools/train_beats.py``.
"""
