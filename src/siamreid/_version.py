"""The package version, read by hatchling and by ``siamreid.__version__``."""

__version__ = "0.1.0"
