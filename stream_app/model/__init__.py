"""Online learning: engagement model, drift adaptation, content bandit, progressive validation.

Pure (no I/O): the worker feeds it profile views, candidates and labels, and
checkpoints what ``to_bytes`` returns.
"""
