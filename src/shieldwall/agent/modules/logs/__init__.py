"""Log inspection: files, the journal and container logs through Wazuh, Sigma and Shieldwall rules."""

from shieldwall.agent.modules.logs.module import Module

__all__ = ["Module"]
