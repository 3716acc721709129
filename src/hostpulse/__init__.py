"""hostpulse: a self-hosted, real-time server dashboard."""

__version__ = "0.1.0"
