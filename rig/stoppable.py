"""The thread lifecycle every rig output and listener shares: one daemon thread, a stop flag, a join."""

from __future__ import annotations

import threading
from collections.abc import Callable


class StoppableThread:
    """Runs a target on one daemon thread; :meth:`stop` asks it to end and waits until it has.

    The target ends when it sees :attr:`stopping` set, or when the ``wake`` given to :meth:`stop` unblocks it (a
    sentinel on its queue, a server shutdown). Not restartable: :attr:`stopping` stays set after :meth:`stop`.
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        """Set by :meth:`stop`; the target's loop polls it."""
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :meth:`stop`."""
        return self._thread is not None and not self.stopping.is_set()

    def start(self, target: Callable[[], object], name: str) -> None:
        """Run ``target()`` on a new daemon thread called ``name``."""
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    def stop(self, wake: Callable[[], object] | None = None) -> bool:
        """Set :attr:`stopping`, call ``wake`` (only when a thread runs) and join the thread.

        Returns:
            True when this call ended a started thread; False when none was started or it was already stopped,
            so the owner can release its resources once, after the join.
        """
        self.stopping.set()
        if self._thread is None:
            return False
        if wake is not None:
            wake()
        self._thread.join()
        self._thread = None
        return True
