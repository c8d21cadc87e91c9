"""Wazuh/OSSEC rule sets: pre-decoding, XML decoders and rules, CDB lists, evaluation."""

from shieldwall.logrules.wazuh.engine import Alert, WazuhEngine, load_ruleset

__all__ = ["Alert", "WazuhEngine", "load_ruleset"]
