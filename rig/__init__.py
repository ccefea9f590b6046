"""The VJ rig: what dancepose tells the rest of a show (OSC out, MIDI clock), what the rig can tell it (OSC in), and
the latency of each output, applied to show times.

Headless: nothing here imports Qt or ``ui``. Every output observes the engine's events (the owner of the engine's
event queue hands them over, see :class:`rig.outputs.Rig`) and sends on its own thread, at the show time of what it
describes on the audio clock, moved earlier by that output's latency.
"""
