"""Persistence: scans, assets, inventories, findings with their lifecycle, exceptions, alerts, the audit trail.

``Store.open()`` connects (SQLite in the data directory, or
``SHIELDWALL_DATABASE_URL``) and migrates; the modules beside this one read
and write through it: ``records`` (scans and findings), ``queries``,
``audit`` (the hash chain), ``outbox`` (alerts).
"""

from shieldwall.store.core import Store
from shieldwall.store.schema import FindingStatus

__all__ = ["FindingStatus", "Store"]
