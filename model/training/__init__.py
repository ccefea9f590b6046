"""Training and evaluating the EDSA adapter (and the fine-tuning baselines) on AIST++ or CLIFF-image data.

``data`` (pairs, the decoded-audio cache, the loader), ``aist`` and ``cliff`` (the two dataset layouts), ``losses``,
``methods`` (which parameters train), ``trainer``, ``metrics``, ``evaluate`` and ``cli`` (``main.py train|eval``).
"""

METHODS: tuple[str, ...] = ("edsa", "bottleneck", "linear", "lora", "full")
"""The training methods (see :mod:`model.training.methods`); here, free of torch, for the command line's choices."""
