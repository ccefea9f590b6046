"""A private PulseAudio daemon with a null sink: a virtual sound card for tests that play and capture real audio.

Recipe (../shared/PLATFORM.md): ``pulseaudio -D --exit-idle-time=-1 --system=false`` with a private
``XDG_RUNTIME_DIR`` (mode 700), ``module-null-sink sink_name=v``, default sink ``v`` and default source
``v.monitor``. Audio played into ``v`` (``paplay``, a sounddevice OutputStream) comes back from ``v.monitor``.
PortAudio (Debian's has no native Pulse backend) reaches it through ALSA's ``pulse`` plugin (libasound2-plugins) as
the ``pulse`` and ``default`` devices, once every client has the daemon's environment and PortAudio was
reinitialised after it was set. Client autospawn is off, so a killed daemon stays dead until :meth:`start`.

One addition to the recipe: a silent ``pacat --latency-msec=20`` of /dev/zero stays connected to the sink, and the
sink is suspended and resumed once it is, so that it restarts rendering at that latency. Without a low-latency
client the null sink renders (and its monitor delivers) audio in 2 s blocks: a capture stream's first callback came
after about 2 s; with it, after about 20 ms.

Use in a test module::

    from pulse_audio import no_audio_devices, pulse_server  # noqa: F401  (pytest fixtures)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from live.audio_input import list_input_devices, reinitialise_portaudio

SINK = "v"
"""The null sink's name; its monitor source is ``v.monitor``."""

STARTUP_TIMEOUT_S: float = 60.0
"""Seconds the daemon may take to start or to die (a deadline for polling, generous for a busy machine)."""


class PulseServer:
    """One private PulseAudio daemon under ``root`` (its runtime directory and client configuration)."""

    def __init__(self, root: Path) -> None:
        self.runtime_dir = root / "runtime"
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)
        self.runtime_dir.chmod(0o700)
        self.client_config = root / "client.conf"
        self.client_config.write_text("autospawn = no\n")
        self._keep_awake: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables every client (and the daemon) needs."""
        return {
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PULSE_SERVER": f"unix:{self.runtime_dir / 'pulse' / 'native'}",
            "PULSE_CLIENTCONFIG": str(self.client_config),
        }

    @property
    def pid_file(self) -> Path:
        return self.runtime_dir / "pulse" / "pid"

    def start(self) -> None:
        """Start the daemon (``-D`` returns once it serves), set up the null sink as default sink and source, and
        keep the sink at low latency."""
        self.pid_file.unlink(missing_ok=True)
        subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false"], env=self._environ(),
                       check=True, capture_output=True, timeout=STARTUP_TIMEOUT_S)
        self.pactl("load-module", "module-null-sink", f"sink_name={SINK}")
        self.pactl("set-default-sink", SINK)
        self.pactl("set-default-source", f"{SINK}.monitor")
        self._keep_sink_at_low_latency()

    def _keep_sink_at_low_latency(self) -> None:
        """Connect a silent 20 ms-latency player to the sink, then restart the sink so it renders at that latency."""
        self._keep_awake = subprocess.Popen(["pacat", "--playback", "--latency-msec=20", f"--device={SINK}",
                                             "/dev/zero"], env=self._environ(), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.pactl("list", "short", "sink-inputs").strip():
            if time.monotonic() > deadline:
                raise TimeoutError("pacat did not connect to the null sink")
            time.sleep(0.01)
        self.pactl("suspend-sink", SINK, "1")
        self.pactl("suspend-sink", SINK, "0")

    def send_signal(self, sig: signal.Signals) -> int:
        """Send ``sig`` to the daemon; its process id."""
        pid = int(self.pid_file.read_text())
        os.kill(pid, sig)
        return pid

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the daemon and wait until it is gone (a zombie counts as gone)."""
        pid = self.send_signal(sig)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while _running(pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"pulseaudio {pid} did not exit after {sig.name}")
            time.sleep(0.01)
        self.pid_file.unlink(missing_ok=True)
        if self._keep_awake is not None:
            self._keep_awake.terminate()
            self._keep_awake.wait(timeout=STARTUP_TIMEOUT_S)

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this daemon; its stdout."""
        done = subprocess.run(["pactl", *args], env=self._environ(), check=True, capture_output=True, text=True,
                              timeout=STARTUP_TIMEOUT_S)
        return done.stdout

    def play(self, wav: Path, latency_ms: int = 20) -> subprocess.Popen[bytes]:
        """Start ``paplay`` of ``wav`` into the null sink, buffering ``latency_ms`` milliseconds."""
        return subprocess.Popen(["paplay", f"--latency-msec={latency_ms}", f"--device={SINK}", str(wav)],
                                env=self._environ())

    def _environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def portaudio_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in this process and reinitialise PortAudio so it sees it; restore both afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    reinitialise_portaudio()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reinitialise_portaudio()


@pytest.fixture(scope="module")
def pulse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A running private daemon whose null sink is this process's default PortAudio input (``v.monitor``)."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "pacat") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: pulseaudio pulseaudio-utils libasound2-plugins)")
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    server.start()
    try:
        with portaudio_environment(server.env):
            if not any(device.name == "pulse" for device in list_input_devices()):
                pytest.skip("PortAudio does not see the 'pulse' device: ALSA's pulse plugin (libasound2-plugins) "
                            "is missing")
            yield server
    finally:
        if server.pid_file.exists():
            server.kill(signal.SIGTERM)


@pytest.fixture
def no_audio_devices(tmp_path: Path) -> Iterator[None]:
    """PortAudio with no device at all: no sound card and a Pulse server address that does not exist."""
    client_config = tmp_path / "client.conf"
    client_config.write_text("autospawn = no\n")
    env = {"PULSE_SERVER": f"unix:{tmp_path / 'no-server'}", "PULSE_CLIENTCONFIG": str(client_config)}
    with portaudio_environment(env):
        if list_input_devices():
            pytest.skip("this machine has audio input hardware, so a machine without any cannot be simulated")
        yield
