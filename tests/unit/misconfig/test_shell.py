"""The small shell splitter used by RUN and container-command checks."""

from __future__ import annotations

from shieldwall.misconfig.checks._shell import commands, has_flag, pipelines, subcommand


def test_pipelines_split_on_operators_and_pipes() -> None:
    lines = pipelines("apt-get update && curl -fsSL https://x | sudo bash - ; echo done")
    assert [[c.program for c in line] for line in lines] == [["apt-get"], ["curl", "bash"], ["echo"]]


def test_wrappers_and_assignments_are_skipped() -> None:
    (command,) = commands("DEBIAN_FRONTEND=noninteractive sudo -E apt-get -y install curl")
    assert command.program == "apt-get"
    assert command.raw_first == "sudo"
    assert subcommand(command) == "install"
    assert has_flag(command, "-y")


def test_bundled_short_flags_match() -> None:
    (command,) = commands("apt-get -qy install vim")
    assert has_flag(command, "-y")
    assert not has_flag(command, "--no-install-recommends")


def test_heredoc_body_is_one_command_per_line() -> None:
    cmds = commands("<<EOF\napt-get update\napt-get install -y x")
    assert [(c.program, subcommand(c)) for c in cmds] == [("apt-get", "update"), ("apt-get", "install")]


def test_unbalanced_quotes_do_not_crash() -> None:
    assert [c.program for c in commands('echo "oops && rm -rf /tmp/x')] == ["echo", "rm"]
