"""Creating the engine's topics (``stream-app topics create`` and worker start-up)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream_app.kafka import client_options
from stream_app.settings import Settings

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every missing topic with the configured partitions (one for the labels
    topic); returns those created."""
    admin = AIOKafkaAdminClient(
        **client_options(settings), client_id=f"{settings.worker.app_id}-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in settings.topics.all() if name not in existing]
        single = settings.topics.single()
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=1 if name in single else settings.kafka.topic_partitions,
                        replication_factor=settings.kafka.topic_replication,
                    )
                    for name in missing
                ]
            )
            log.info("created topics %s", missing)
        return missing
    finally:
        await admin.close()
