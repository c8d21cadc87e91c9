"""Intrusion prevention and detection with Suricata (agent module ``ips``).

The manager's policy selects rules (ET Open categories and SIDs, Shieldwall's
own virtual-patch pack, recommender-assigned SIDs, domain/URL reputation) and a
mode (Detect: alert; Prevent: inline drop) per policy and per rule; this
module generates Suricata's configuration inside its state directory,
validates it with ``suricata -T``, runs and supervises Suricata on an NFQUEUE
inline path, reloads rules live through the unix socket, and turns
``eve.json`` alerts into agent events.
"""

from shieldwall.agent.modules.ips.module import Module

__all__ = ["Module"]
