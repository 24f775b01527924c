"""EZNAS engine: search spaces, program evaluation, evolution, export."""
__version__ = "0.1.0"
