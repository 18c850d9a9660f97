"""The one place Kafka connection security is turned into client options.

Every aiokafka client the engine builds (producers, consumers, admin clients)
takes ``client_options``, and the Faust worker takes ``faust_credentials``;
both come from the same settings, so the worker and the tools can never
disagree on how to reach the brokers.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from stream_app.settings import Settings

__all__ = ["client_options", "faust_credentials", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for ``SSL`` / ``SASL_SSL`` (``None`` otherwise).

    Verifies the broker's certificate and host name against
    ``kafka_ssl_ca_file``, else the system's CAs; presents the client
    certificate when one is set.
    """
    if not settings.kafka.security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka.ssl_ca_file,
        certfile=settings.kafka.ssl_cert_file,
        keyfile=settings.kafka.ssl_key_file,
    )
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: bootstrap servers and security.

    Only the options the protocol uses are present, so PLAINTEXT clients are
    built exactly as before.
    """
    protocol = settings.kafka.security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap,
        "security_protocol": protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        password = settings.kafka.sasl_password
        options |= {
            "sasl_mechanism": settings.kafka.sasl_mechanism,
            "sasl_plain_username": settings.kafka.sasl_username,
            "sasl_plain_password": None if password is None else password.get_secret_value(),
        }
    return options


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` for the same security (``None`` for PLAINTEXT).

    Faust hands these to its own aiokafka clients; ``SASLCredentials`` means
    SASL_SSL exactly when it carries a TLS context.
    """
    import faust  # heavy: only the worker needs it

    protocol = settings.kafka.security_protocol
    context = ssl_context(settings)
    if protocol.startswith("SASL_"):
        password = settings.kafka.sasl_password
        return faust.SASLCredentials(
            username=settings.kafka.sasl_username,
            password=None if password is None else password.get_secret_value(),
            mechanism=settings.kafka.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
