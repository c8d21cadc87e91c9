"""Shieldwall: scan, gate, monitor and audit what a DevOps team builds and runs."""

__version__ = "0.1.0"
