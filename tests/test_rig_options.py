"""The rig's options on ``live`` and ``show``: checked in one line before any heavy work."""

from __future__ import annotations

import pytest

from main import main
from rig.options import RigOptions
from rig.osc_out import OscTarget


@pytest.mark.parametrize(("argv", "error"), [
    (["--osc", "7000"], "error: --osc takes HOST:PORT with a port 1..65535, got '7000'"),
    (["--osc", "127.0.0.1:70000"], "error: --osc takes HOST:PORT with a port 1..65535, got '127.0.0.1:70000'"),
    (["--osc", "no.such.host.invalid:7000"], "error: --osc no.such.host.invalid:7000: unknown host"),
    (["--osc-preset", "resolume"], "error: --osc-preset needs an --osc HOST:PORT target"),
    (["--osc", "127.0.0.1:1", "--osc", "127.0.0.1:2", "--osc", "127.0.0.1:3", "--osc-preset", "resolume",
      "--osc-preset", "dancepose"], "error: --osc-preset given 2 times for 3 --osc targets"),
    (["--osc-listen", "-1"], "error: --osc-listen takes a UDP port 0..65535, got -1"),
    (["--osc-phase-hz", "5000"], "error: --osc-phase-hz must be between 0 and 1000, got 5000"),
    (["--latency-screen-ms", "1500"], "error: --latency-screen-ms must be between -500 and 1000 ms, got 1500"),
])
@pytest.mark.parametrize("command", ["live", "show"])
def test_bad_rig_options_are_one_line_errors(command, argv, error, capsys):
    assert main([command, "--headless", *argv]) == 2
    assert capsys.readouterr().err.startswith(error)


def test_presets_pair_with_targets_in_order():
    from argparse import ArgumentParser

    from rig.options import add_rig_options, rig_options

    parser = ArgumentParser()
    add_rig_options(parser)
    args = parser.parse_args(["--osc", "127.0.0.1:7400", "--osc", "localhost:7000", "--osc-preset", "dancepose",
                              "--osc-preset", "resolume", "--osc-listen", "9000", "--latency-osc-ms", "40"])
    options = rig_options(args)
    assert options.osc == (OscTarget("127.0.0.1", 7400, "dancepose"), OscTarget("localhost", 7000, "resolume"))
    assert options.listen == 9000 and options.latencies.osc_ms == 40.0 and options.any
    assert not RigOptions().any
    assert rig_options(parser.parse_args(["--osc", "127.0.0.1:1", "--osc", "127.0.0.1:2", "--osc-preset",
                                          "resolume"])).osc[1].preset == "resolume"
