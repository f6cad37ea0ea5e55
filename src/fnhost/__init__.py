"""fnhost: a self-hosted platform for Python functions that speaks the CDF Functions API."""

__version__ = "0.1.0"
