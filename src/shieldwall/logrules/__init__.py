"""Log rule engines: Wazuh/OSSEC XML decoders and rules, fail2ban filters, Sigma, Shieldwall YAML rules."""
