# dancepose: `make run` runs the main job, `make test` the suite. Each sets up what is missing first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.stamp-deps
# Debian packages the code needs at run time: PortAudio (sounddevice), Mesa's headless OpenGL for the moderngl renderer
# (EGL with llvmpipe, OSMesa as the fallback), fonts, and what Qt's xcb platform needs.
APT_PACKAGES := libportaudio2 libosmesa6 libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri fonts-dejavu-core \
	libfontconfig1 libxkbcommon0 libglib2.0-0 libdbus-1-3 libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 \
	libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 \
	libxcb-xfixes0
# For the tests: a real PulseAudio daemon whose null sink stands in for a sound card, and Xvfb for a real X window.
APT_TEST_PACKAGES := pulseaudio pulseaudio-utils libasound2-plugins xvfb xauth x11-apps imagemagick
# Only needed to rebuild the bundled assets from their sources (tools/*.py).
APT_ASSET_SOURCES := assimp-testmodels fluidsynth fluid-soundfont-gm openttd-openmsx
# Only needed to regenerate the beat tracker's training data and weights (make train-beats).
APT_BEAT_DATA := fluidsynth mma fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont \
	fretsonfire-songs-muldjord fretsonfire-songs-sectoid
BEAT_DATA := out/beat_data
THUMBS_STAMP := assets/bank/images/.stamp
GRAPH_STAMP := assets/graph/graph.json
TEST_EXTRAS_STAMP := $(VENV)/.stamp-test-extras
SONG ?=
OUT ?=

.PHONY: run retrieve test setup system bench assets-sources clean graph train-beats

# The main job: the live visualizer (a window with a display; here, the demo song played as live, recorded to out/live).
run: setup $(THUMBS_STAMP) $(GRAPH_STAMP)
	$(PY) main.py

# The offline pipeline: song file -> per-beat top-k JSON, image folders and videos (SONG=..., OUT=...).
retrieve: setup $(THUMBS_STAMP)
	$(PY) main.py retrieve $(SONG) $(if $(OUT),--out $(OUT))

test: APT_PACKAGES += $(APT_TEST_PACKAGES)
test: setup $(THUMBS_STAMP) $(GRAPH_STAMP) $(TEST_EXTRAS_STAMP)
	$(PY) -m pytest -q

setup: system $(DEPS_STAMP)

# The learned beat tracker, from scratch: generate its training data (MIDI grooves, corpus pieces and drum patterns
# rendered with fluidsynth, Fret's on Fire recordings, augmented) into out/beat_data, then train and export the
# weights to assets/beats/beat_activation.npz (about an hour on 2 cores; see the README).
train-beats: APT_PACKAGES += $(APT_BEAT_DATA)
train-beats: setup
	$(PY) -m pip install -q -e '.[dev,beats-train]'
	$(PY) tools/make_beat_data.py --out $(BEAT_DATA)
	$(PY) tools/train_beats.py --data $(BEAT_DATA) --out assets/beats/beat_activation.npz

# Install missing Debian packages when root; otherwise print the exact command and stop.
system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y --no-install-recommends $$missing"; exit 1; \
	  fi; \
	fi

# torch first and pinned (2.13.0; a CUDA build already in the venv is kept), then the project.
$(DEPS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Thumbnails of the bundled bank, rendered from the bundled body (git-ignored, about a minute).
$(THUMBS_STAMP): $(DEPS_STAMP) assets/bank/vectors.npy assets/body/dancepose_cc0_body.npz
	$(PY) tools/build_default_bank.py --images-only
	touch $@

# The default motion graph (--motion graph) from the bundled mocap clips: DeepMimic's in the pybullet wheel (fetched
# into assets/cache once), assimp's boxing BVH when assimp-testmodels is installed (git-ignored, about a minute).
graph: setup $(GRAPH_STAMP)

$(GRAPH_STAMP): $(DEPS_STAMP)
	$(PY) main.py motion build --default

# Optional extras, so that their tests run rather than skip: the VJ rig's MIDI clock (mido, python-rtmidi) and
# Ableton Link (aalink, GPL-3: installed for the tests only, never a dependency of dancepose itself), and the beat
# tracker's training-data tools (music21).
$(TEST_EXTRAS_STAMP): $(DEPS_STAMP)
	$(PY) -m pip install -q -e '.[rig,link,beats-train]'
	touch $@

bench: setup
	$(PY) bench/bench_model.py
	$(PY) bench/bench_search.py
	$(PY) bench/bench_beats.py
	$(PY) bench/bench_live.py
	$(PY) bench/bench_normalisation.py
	$(PY) bench/bench_render.py
	$(PY) bench/bench_train.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_motion.py
	$(PY) bench/bench_fuzz.py
	$(PY) bench/bench_soak.py --minutes 3

# Debian sources of the bundled assets, for tools/build_default_*.py and tools/make_demo_song.py.
assets-sources: setup
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_ASSET_SOURCES)
	$(PY) -m pip install -q -e '.[assets]'


clean:
	rm -rf $(VENV) out assets/cache assets/bank/images
