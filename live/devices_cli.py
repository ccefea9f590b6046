"""The ``devices`` sub-command: list the audio inputs that ``--input NAME|INDEX`` accepts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # PortAudio loads when the command runs, not when the command line is built
    from live.audio_input import DeviceInfo


def add_devices_command(commands: argparse._SubParsersAction) -> None:
    """Add ``devices`` to the CLI's sub-commands; its ``run(args)`` returns the exit status."""
    parser = commands.add_parser(
        "devices", help="list the audio inputs (microphones, line-in)",
        description="List the audio input devices PortAudio sees: index, name, input channels and native sample "
                    "rate; * marks the default input. Pass the index or (part of) the name to --input.")
    parser.set_defaults(run=run_devices)


def run_devices(args: argparse.Namespace) -> int:
    """Print the input table; status 1 (with a hint on stderr) when there is no input at all."""
    from live.audio_input import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("no audio input device found; connect a microphone or line-in, or use a song file as the input",
              file=sys.stderr)
        return 1
    print(format_devices(devices))
    return 0


def format_devices(devices: list[DeviceInfo]) -> str:
    """A text table, one device a line: default marker, index, name, channels, rate in Hz."""
    width = max(len("name"), *(len(device.name) for device in devices))
    lines = [f"  {'index':>5}  {'name':<{width}}  {'channels':>8}  {'rate (Hz)':>9}"]
    lines += [
        f"{'*' if device.is_default else ' '} {device.index:>5}  {device.name:<{width}}  {device.channels:>8}  "
        f"{device.default_rate:>9}"
        for device in devices
    ]
    return "\n".join(lines)
