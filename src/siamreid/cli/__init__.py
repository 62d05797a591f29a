"""Command-line entry points (``siamreid ...`` and ``python -m siamreid ...``)."""
