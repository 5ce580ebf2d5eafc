"""The package version (one place: pyproject reads it, the disk cache keys on it)."""

__version__ = "0.1.0"
