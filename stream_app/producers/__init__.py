"""Everything that publishes events: the public ``EventProducer``, its envelope packer,
the load generator (the simulator, paced) and the replay of recorded event logs.

Below ``streaming`` in the layers: it uses the contracts (``events``), the
settings and the simulator, and nothing of the worker.
"""

from stream_app.producers.producer import Checked, DeliveryError, EventProducer, InvalidEvent

__all__ = ["Checked", "DeliveryError", "EventProducer", "InvalidEvent"]
