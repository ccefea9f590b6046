"""Dance Revolution (Huang et al., ICLR 2021): music features, the v2 network, training, generation and tools.

See ``docs/DANCE_REVOLUTION.md``. Nothing heavy is imported here: import the submodule you need.
"""
