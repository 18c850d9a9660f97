"""The embedded dev stack: servers answer, and no server process ever outlives its owner."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from stream_app.devstack import processes
from stream_app.devstack.ports import free_port, port_accepts
from stream_app.devstack.processes import (
    LoopbackServer,
    ManagedProcess,
    ProcessExitedError,
    ReadinessTimeoutError,
)
from stream_app.devstack.provision import (
    ProvisionError,
    Servers,
    choose_servers_kind,
    provision_servers,
)
from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.tansu import TansuBroker
from stream_app.settings import Settings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="uses /proc and PR_SET_PDEATHSIG"
)

_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>

# --- helpers -----------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1].split("/")[0])


def _assert_gone(pids: list[int], ports: list[int]) -> None:
    # Polls: a multi-threaded server's main thread turns zombie before its other
    # threads are gone and its sockets closed.
    assert _wait_until(lambda: not any(_alive(pid) for pid in pids)), [
        pid for pid in pids if _alive(pid)
    ]
    assert _wait_until(lambda: not any(port_accepts(port) for port in ports)), [
        port for port in ports if port_accepts(port)
    ]


@contextlib.contextmanager
def _adopting_orphans() -> Iterator[None]:
    """Make this process the reaper of orphaned descendants while in the block.

    Servers killed with their parent are reparented to PID 1, which on some
    machines (micro-VM inits) never reaps them; adopting them lets the test reap
    them and read how they died.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _reap(pid: int, timeout: float = 5.0) -> int | None:
    """Wait for an adopted ``pid``; its wait status, or None if not ours / still running."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def _kill_leftovers(pids: list[int]) -> None:
    """Last resort so a failing test does not leak servers into the machine."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float = 30.0) -> str:
    """Read the child's stdout until ``marker`` appears (without blocking past timeout)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{marker!r} not printed within {timeout} s; got {data!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"child exited before printing {marker!r}; got {data!r}")
            data += chunk
    return data.decode()


def _python(code: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE
    )


# --- ManagedProcess ------------------------------------------------------------


def test_wait_ready_fails_fast_with_log_tail_when_child_exits(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "boom", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], tmp_path
    ).start()
    started = time.monotonic()
    with pytest.raises(ProcessExitedError, match=r"(?s)status 3.*bad config"):
        proc.wait_ready(lambda: False, timeout=30)
    assert time.monotonic() - started < 5
    assert proc.stop() == 3
    assert proc.stop() == 3  # idempotent


def test_wait_ready_times_out_quoting_the_last_check_error(tmp_path: Path) -> None:
    def check() -> bool:
        raise ConnectionRefusedError("nope")

    with ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path
    ) as p:
        with pytest.raises(ReadinessTimeoutError, match="nope"):
            p.wait_ready(check, timeout=0.3)
        assert p.running
    assert not p.running


def test_stop_escalates_to_sigkill_and_clears_the_process_group(tmp_path: Path) -> None:
    # The leader ignores SIGTERM; so does its own child (a straggler in the group).
    code = """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"])
        print("grandchild", child.pid, flush=True)
        time.sleep(30)
    """
    proc = ManagedProcess("stubborn", [sys.executable, "-c", textwrap.dedent(code)], tmp_path)
    proc.start()
    grandchild: list[int] = []

    def grandchild_known() -> bool:
        found = re.search(r"grandchild (\d+)", proc.log_tail())
        if found:
            grandchild.append(int(found.group(1)))
        return bool(found)

    try:
        proc.wait_ready(grandchild_known, timeout=15)
        started = time.monotonic()
        assert proc.stop(timeout=0.3) == -signal.SIGKILL
        assert time.monotonic() - started < 5
        assert not proc.running
        assert _wait_until(lambda: not _alive(grandchild[0]))
    finally:
        proc.stop()
        _kill_leftovers(grandchild)


@pytest.mark.parametrize(
    ("server_class", "bind_error"),
    [(TansuBroker, "Address in use"), (RedisServer, "Address already in use")],
)
def test_server_on_a_taken_port(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_class: type[TansuBroker] | type[RedisServer],
    bind_error: str,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        # A port given by the caller is kept: the error shows the server's own log.
        with pytest.raises(ProcessExitedError, match=bind_error):
            server_class(tmp_path / "fixed", port=taken).start(timeout=10)

        # A port picked by us that someone grabbed first: respawn on another one.
        picks = iter([taken])
        monkeypatch.setattr(processes, "free_port", lambda: next(picks, None) or free_port())
        server: LoopbackServer = server_class(tmp_path / "picked")
        with server:
            assert server.port != taken
            assert server.answers()
            assert bind_error in server.log_path.read_text()


def test_redis_server_with_password_and_aof(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="s3cr:et", extra_args=["--appendonly", "yes"])
    with server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
        finally:
            client.close()
        # No retries: redis-py would retry the failed AUTH for seconds.
        anonymous = redis.Redis(port=server.port, retry=Retry(NoBackoff(), 0))
        try:
            with pytest.raises(redis.AuthenticationError):
                anonymous.ping()
        finally:
            anonymous.close()
    assert any(server.data_dir.glob("appendonly*"))


# --- EmbeddedStack -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack() as dev:
        yield dev


@pytest.mark.integration
def test_addresses_and_redis(stack: EmbeddedStack) -> None:
    assert re.fullmatch(r"127\.0\.0\.1:\d+", stack.kafka_bootstrap)
    assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", stack.redis_url)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        assert client.ping()
        client.set("devstack:probe", "1")
        assert client.get("devstack:probe") == b"1"
    finally:
        client.close()


@pytest.mark.integration
async def test_kafka_create_topic_produce_consume(stack: EmbeddedStack) -> None:
    topic = f"devstack-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in await admin.list_topics()
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        # Tansu answers the first JoinGroup after about half the session timeout
        # (5 s with aiokafka's default 10 s); a short one keeps this test quick.
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"k1", b"hello")


@pytest.mark.integration
def test_exit_stops_both_servers_and_removes_temp_dir() -> None:
    with EmbeddedStack() as dev:
        pids = [dev.tansu.pid, dev.redis.pid]
        ports = [_port(dev.kafka_bootstrap), _port(dev.redis_url)]
        log_dir = dev.log_dir
        assert all(_alive(pid) for pid in pids)
        assert all(port_accepts(port) for port in ports)
    _assert_gone(pids, ports)
    assert not log_dir.exists()
    assert not dev.running
    dev.stop()  # idempotent


@pytest.mark.integration
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_in_body_still_stops_servers(tmp_path: Path, error: type[BaseException]) -> None:
    pids: list[int] = []

    def use_stack() -> None:
        with EmbeddedStack(tmp_path) as dev:
            pids.extend([dev.tansu.pid, dev.redis.pid])
            raise error

    with pytest.raises(error):
        use_stack()
    _assert_gone(pids, [])
    assert (tmp_path / "redis.log").exists()  # a given log dir is kept


_HOLDER = """
    import sys, time
    from stream_app.devstack.stack import EmbeddedStack
    dev = EmbeddedStack(sys.argv[1]).start()
    print("PIDS", dev.tansu.pid, dev.redis.pid, dev.kafka_bootstrap, dev.redis_url, flush=True)
    if sys.argv[2] == "hold":
        time.sleep(60)
    # else: fall off the end without stopping: the atexit hook must do it
"""


def _spawn_holder(
    tmp_path: Path, mode: str
) -> tuple[subprocess.Popen[bytes], list[int], list[int]]:
    holder = _python(_HOLDER, str(tmp_path), mode)
    found = re.search(r"PIDS (\d+) (\d+) (\S+) (\S+)", _read_until(holder, "\n"))
    assert found, "holder printed no pids"
    pids = [int(found.group(1)), int(found.group(2))]
    return holder, pids, [_port(found.group(3)), _port(found.group(4))]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("mode", "end", "status", "graceful"),
    [
        ("exit", None, 0, True),  # normal interpreter exit: atexit hook
        ("hold", signal.SIGTERM, 128 + signal.SIGTERM, True),  # SIGTERM -> SystemExit
        ("hold", signal.SIGKILL, -signal.SIGKILL, False),  # kill -9: PR_SET_PDEATHSIG
    ],
)
def test_servers_never_outlive_the_python_process(
    tmp_path: Path, mode: str, end: signal.Signals | None, status: int, graceful: bool
) -> None:
    with _adopting_orphans():
        holder, pids, ports = _spawn_holder(tmp_path, mode)
        try:
            if mode == "hold":  # an exiting holder may already have stopped them: a race
                assert all(_alive(pid) for pid in pids)
            if end is not None:
                holder.send_signal(end)
            assert holder.wait(timeout=20) == status
            if not graceful:  # orphaned, so adopted by us: they must die of SIGKILL
                statuses = [_reap(pid) for pid in pids]
                assert all(
                    s is not None and os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL
                    for s in statuses
                ), statuses
            _assert_gone(pids, ports)
            # A graceful stop lets Redis log its shutdown; SIGKILL leaves no chance to.
            assert ("Received SIGTERM" in (tmp_path / "redis.log").read_text()) is graceful
        finally:
            holder.kill()
            holder.wait()
            assert holder.stdout is not None
            holder.stdout.close()
            _kill_leftovers(pids)


# --- stream-app stack ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_stack_prints_addresses_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "stream_app", "stack"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    pids: list[int] = []
    try:
        out = _read_until(cli, "to stop.")
        pids += [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
        kafka = re.search(r"^export STREAM_APP_KAFKA__BOOTSTRAP=(\S+)$", out, re.M)
        redis_url = re.search(r"^export STREAM_APP_REDIS__URL=(\S+)$", out, re.M)
        assert kafka, out
        assert redis_url, out
        assert len(pids) == 2
        assert all(_alive(pid) for pid in pids)
        client = redis.Redis.from_url(redis_url.group(1))
        try:
            assert client.ping()
        finally:
            client.close()
        assert port_accepts(_port(kafka.group(1)))

        cli.send_signal(stop_signal)
        rest, _ = cli.communicate(timeout=20)
        assert cli.returncode == 0, rest
        assert b"Stopped." in rest
        _assert_gone(pids, [_port(kafka.group(1)), _port(redis_url.group(1))])
    finally:
        if cli.returncode is None:
            cli.kill()
            cli.communicate()
        _kill_leftovers(pids)


@pytest.mark.integration
def test_cli_stack_duration_ends_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stream_app", "stack", "--duration", "0.2"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pids = [int(pid) for pid in re.findall(rb"\(pid (\d+)\)", done.stdout)]
    assert len(pids) == 2
    assert b"duration elapsed" in done.stdout
    _assert_gone(pids, [])


# --- provisioning ----------------------------------------------------------------

_EXTERNAL: dict[str, Any] = {
    "kafka": {"bootstrap": "kafka.example:9092"},
    "redis": {"url": "redis://redis.example:6379/0"},
}


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings of the given sections alone, whatever servers this session was given."""
    for name in list(os.environ):
        if name.startswith("STREAM_APP_"):
            monkeypatch.delenv(name)
    return lambda **sections: Settings(_env_file=None, **sections)


def _docker(answer: bool) -> Callable[[str], bool]:
    return lambda host: answer


@pytest.mark.parametrize(
    ("sections", "docker", "expected"),
    [
        ({}, False, "embedded"),
        ({}, True, "containers"),
        (_EXTERNAL, True, "external"),
        ({"kafka": {"bootstrap": "k:9092"}}, False, "embedded"),  # both are needed
        ({**_EXTERNAL, "devstack": {"servers": "embedded"}}, True, "embedded"),
        ({"devstack": {"servers": "containers"}}, False, "containers"),
    ],
)
def test_choose_servers_kind(
    bare: Callable[..., Settings], sections: dict[str, Any], docker: bool, expected: str
) -> None:
    assert choose_servers_kind(bare(**sections), docker_probe=_docker(docker)) == expected


def test_choose_servers_kind_rejects_impossible_requests(bare: Callable[..., Settings]) -> None:
    with pytest.raises(ValidationError):
        bare(devstack={"servers": "kafka"})
    with pytest.raises(ProvisionError):
        choose_servers_kind(bare(devstack={"servers": "external"}), docker_probe=_docker(False))


def test_provision_external_starts_nothing(bare: Callable[..., Settings]) -> None:
    with provision_servers(bare(**_EXTERNAL)) as servers:
        assert servers == Servers("kafka.example:9092", "redis://redis.example:6379/0", "external")


@pytest.mark.integration
def test_provision_embedded_servers_answer(bare: Callable[..., Settings]) -> None:
    with provision_servers(bare(devstack={"servers": "embedded"})) as servers:
        assert servers.kind == "embedded"
        client = redis.Redis.from_url(servers.redis_url)
        try:
            assert client.ping()
        finally:
            client.close()
        kafka_port = _port(servers.kafka_bootstrap)
        assert port_accepts(kafka_port)
    assert not port_accepts(kafka_port)
