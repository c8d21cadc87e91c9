"""The Shieldwall agent: one small process per host or node, managed by the server.

The core (enrollment, signed requests, policy, spool, upload, heartbeat) lives
in this package's modules; every capability (inventory, fim, logs, firewall,
ips, drift...) is one package under ``agent/modules`` that implements the
contract in ``agent/module.py``. The core knows capabilities only through the
explicit list in ``agent/modules/__init__.py`` plus the ``shieldwall.agent_modules``
entry point group.
"""
