"""Choosing the torch device the model runs on."""

from __future__ import annotations

import torch

from common.errors import InputError

AUTO: tuple[str | None, ...] = (None, "", "auto")
"""Requests that mean 'the best available device'."""


def pick_device(requested: str | None) -> torch.device:
    """The device for ``requested``: 'cpu', 'cuda', 'cuda:N', 'mps', or None/'auto' for CUDA, then MPS, then CPU.

    Raises:
        InputError: the name is not a device, or that device is not available on this machine.
    """
    if requested in AUTO:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as err:
        raise InputError(None, f"unknown device {requested!r}: use cpu, cuda, cuda:N, mps or auto") from err
    problem = unavailable(device)
    if problem:
        raise InputError(None, f"device {requested!r} is not available: {problem}")
    return device


def unavailable(device: torch.device) -> str | None:
    """Why ``device`` cannot be used here, or None if it can."""
    if device.type == "cpu":
        return None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "this torch build or machine has no CUDA GPU (use cpu or auto)"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"only {count} CUDA device(s) (cuda:0 to cuda:{count - 1})"
        return None
    if device.type == "mps":
        return None if torch.backends.mps.is_available() else "Apple MPS is not available here (use cpu or auto)"
    return f"the model runs on cpu, cuda or mps, not {device.type}"
