"""``python -m stream_app`` is the same as ``stream-app``."""

from stream_app.cli.main import main

main()
