"""stream_app: real-time precision-marketing engine (Kafka in, Redis profiles, decisions out)."""

__version__ = "0.1.0"
