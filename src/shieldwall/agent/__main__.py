"""``python -m shieldwall.agent run|install|status``: the agent's commands without the scanner's CLI.

The same typer app as ``shieldwall agent``; this entry imports only what the
agent needs, which keeps a long-running agent's memory small (the systemd unit
uses it).
"""

from shieldwall.cli.agent import agent_app

agent_app(prog_name="shieldwall-agent")
