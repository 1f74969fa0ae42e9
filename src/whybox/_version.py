"""The package version, importable from any module without an import cycle."""

__version__ = "0.5.0"
