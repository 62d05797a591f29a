"""Tests that keep the documentation true to the code (a package: its test_quickstart.py and
tests/examples/test_quickstart.py share a base name)."""
