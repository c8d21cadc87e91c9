"""Alerts on new findings: channel settings, message formats (JSON webhook, Slack, Teams, email), delivery."""
