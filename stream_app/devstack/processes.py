"""Child server processes that never outlive the Python process that started them.

Each child runs in its own session / process group, so one signal reaches the server
and anything it forks, and Ctrl-C in a terminal is delivered to us, not to it: we
decide the shutdown order. On Linux the child also gets ``PR_SET_PDEATHSIG=SIGKILL``,
so even ``kill -9`` of the parent cannot leave an orphaned broker holding a port.

POSIX only (process groups, ``killpg``).
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from stream_app.devstack.ports import free_port

__all__ = [
    "LoopbackServer",
    "ManagedProcess",
    "ProcessExitedError",
    "ProcessStartError",
    "ReadinessTimeoutError",
]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_POLL_INTERVAL_S = 0.02


class ProcessStartError(RuntimeError):
    """A child server did not become ready; the message ends with its log tail."""


class ProcessExitedError(ProcessStartError):
    """The child exited before it became ready (bad arguments, port already taken, ...)."""


class ReadinessTimeoutError(ProcessStartError, TimeoutError):
    """The child kept running but its readiness check never passed in time."""


def _linux_prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux, else None (no parent-death signal there)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when we die.

    Everything is resolved before ``fork``: the function runs in the forked child,
    where only async-signal-safe work is wise. If we already died between ``fork``
    and ``prctl`` (the signal would never come), the child kills itself.
    """
    prctl = _linux_prctl()
    if prctl is None:
        return None
    parent_pid = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), sigkill)

    return preexec


class StartStop:
    """``with x:`` starts ``x`` and always stops it: one protocol for every managed server."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ManagedProcess(StartStop):
    """One child server process with a log file, a readiness wait and a reliable stop.

    Output goes to ``<log_dir>/<name>.log`` (appended), never to a pipe that nobody
    drains and that would block the server once full.

    Linux delivers the parent-death signal when the *thread* that spawned the child
    exits, so call :meth:`start` from a thread that lives as long as the child
    (normally the main thread), never from a short-lived worker thread.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path | str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.argv: tuple[str, ...] = tuple(argv)
        self.log_path = Path(log_dir) / f"{name}.log"
        self.stop_timeout = stop_timeout
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._terminated = False

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, exit={self.exit_status()})"

    @property
    def pid(self) -> int | None:
        """The child's pid (also its process-group id), None before :meth:`start`."""
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        """Started and not exited yet."""
        return self._popen is not None and self.exit_status() is None

    def start(self) -> Self:
        """Spawn the child; returns at once (use :meth:`wait_ready` to wait for it)."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- starting: {shlex.join(self.argv)}\n".encode())
            log.flush()
            # The child keeps its own copy of the descriptor; ours closes on return.
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                close_fds=True,
                start_new_session=True,
                preexec_fn=_pdeathsig_preexec(),
            )
        return self

    def exit_status(self) -> int | None:
        """The exit status (negative signal number if killed), None while running.

        Uses ``waitid(WNOWAIT)`` so the child is *not* reaped: a zombie keeps its pid,
        and therefore its process-group id, reserved until :meth:`stop` has signalled
        the whole group, so a recycled pid can never receive our signal.
        """
        popen = self._popen
        if popen is None:
            return None
        if popen.returncode is not None:
            return popen.returncode
        if not hasattr(os, "waitid"):
            return popen.poll()
        try:
            info = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped by someone else
            return popen.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def wait_ready(
        self, check: Callable[[], bool], timeout: float, *, interval: float = _POLL_INTERVAL_S
    ) -> None:
        """Poll ``check`` until it returns True; fail fast if the child exits first.

        An exception from ``check`` counts as "not ready yet" (servers refuse or reset
        connections while they start); the last one is quoted on timeout.
        """
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            status = self.exit_status()
            if status is not None:
                raise ProcessExitedError(
                    f"{self.name} exited with status {status} before it became ready."
                    f"\n{self._log_excerpt()}"
                )
            try:
                if check():
                    return
            except Exception as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                detail = f" (last check error: {last_error!r})" if last_error else ""
                raise ReadinessTimeoutError(
                    f"{self.name} (pid {self.pid}) not ready after {timeout:.1f} s{detail}."
                    f"\n{self._log_excerpt()}"
                )
            time.sleep(interval)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the child's log (empty if there is none)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 16_384))
                data = log.read()
        except FileNotFoundError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Send SIGTERM to the child's group without waiting (lets several stop at once)."""
        if self._popen is not None and self._popen.returncode is None and not self._terminated:
            self._signal_group(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM the group, wait up to ``timeout`` s, then SIGKILL; reap. Idempotent.

        Returns the exit status, or None if the process was never started.
        """
        popen = self._popen
        if popen is None:
            return None
        if popen.returncode is not None:
            return popen.returncode
        grace = self.stop_timeout if timeout is None else timeout
        try:
            self.terminate()
            self._wait_exited(grace)
        finally:
            # Also reached on Ctrl-C during the grace period. The leader has exited or
            # is about to be killed; SIGKILL clears any straggler in its group while
            # the unreaped leader still pins the group id.
            if popen.returncode is None:
                self._signal_group(signal.SIGKILL)
            popen.wait()
        return popen.returncode

    def _wait_exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.exit_status() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL_S)
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def _log_excerpt(self) -> str:
        return f"Last lines of {self.log_path}:\n{self.log_tail()}"


class LoopbackServer(StartStop, abc.ABC):
    """A server bound to one 127.0.0.1 port, ready once it answers a real request.

    :func:`free_port` can race with other processes (parallel test runs): when the
    port was picked here and the server exits before it is ready, it is respawned
    on a fresh port, up to ``spawn_attempts`` times. A caller-given port is never
    changed.
    """

    name: ClassVar[str]

    def __init__(
        self,
        log_dir: Path | str,
        *,
        port: int | None = None,
        spawn_attempts: int = 3,
        stop_timeout: float = 5.0,
    ) -> None:
        self.log_dir = Path(log_dir)
        self._fixed_port = port is not None
        self._port = port
        self._spawn_attempts = max(1, spawn_attempts)
        self._stop_timeout = stop_timeout
        self._attempts = 0
        self._process: ManagedProcess | None = None

    @abc.abstractmethod
    def argv(self, port: int) -> list[str]:
        """The command line that serves on ``127.0.0.1:port``."""

    @abc.abstractmethod
    def answers(self) -> bool:
        """Whether the server answers a real protocol request now (readiness check)."""

    def pick_port(self) -> int:
        """A free port to serve on when none was given."""
        return free_port()

    def child_env(self) -> dict[str, str] | None:
        """Environment of the child; None inherits ours."""
        return None

    @property
    def port(self) -> int:
        """The port the server listens on (chosen at :meth:`spawn` unless given)."""
        if self._port is None:
            raise RuntimeError(f"{self.name} has no port yet; call spawn() or start()")
        return self._port

    @property
    def process(self) -> ManagedProcess:
        """The current child process."""
        if self._process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._process

    @property
    def pid(self) -> int:
        """The server's pid."""
        pid = self.process.pid
        assert pid is not None
        return pid

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.log_dir / f"{self.name}.log"

    def spawn(self) -> None:
        """Start the process without waiting; see :meth:`wait_ready`."""
        if self._process is not None and self._process.exit_status() is None:
            raise RuntimeError(f"{self.name} is already running")
        if not self._fixed_port:
            self._port = self.pick_port()
        self._attempts += 1
        self._process = ManagedProcess(
            self.name,
            self.argv(self.port),
            self.log_dir,
            env=self.child_env(),
            stop_timeout=self._stop_timeout,
        ).start()

    def wait_ready(self, timeout: float) -> None:
        """Wait until :meth:`answers`; respawn on a new port if a picked one was taken."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.process.wait_ready(self.answers, max(0.0, deadline - time.monotonic()))
                return
            except ProcessExitedError:
                self.process.stop()  # reap it
                if self._fixed_port or self._attempts >= self._spawn_attempts:
                    raise
                self.spawn()

    def start(self, timeout: float = 15.0) -> Self:
        """Spawn and wait until ready; the process is stopped if that fails."""
        try:
            self.spawn()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self) -> None:
        """Ask the server to stop without waiting."""
        if self._process is not None:
            self._process.terminate()

    def stop(self) -> None:
        """Stop the server and reap it; idempotent."""
        if self._process is not None:
            self._process.stop()
