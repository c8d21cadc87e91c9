"""--skip-dirs/--skip-files globs (trivy's syntax) and .trivyignore parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from shieldwall.errors import ConfigError, InputError
from shieldwall.policy.ignorefile import NO_EXPIRY, parse_trivyignore
from shieldwall.policy.skippaths import SkipRules, split_patterns


@pytest.mark.parametrize(
    ("dirs", "files", "path", "skipped"),
    [
        (["vendor"], [], "/vendor/a/requirements.txt", True),
        (["./vendor"], [], "/vendor/requirements.txt", True),
        (["vendor"], [], "/app/vendor/requirements.txt", False),  # anchored at the root, as trivy
        (["**/vendor"], [], "/app/vendor/requirements.txt", True),
        (["**/node_modules"], [], "/node_modules/x/package.json", True),
        (["app/*/test"], [], "/app/a/test/x.py", True),
        (["app/*/test"], [], "/app/a/b/test/x.py", False),  # * stays in one segment
        ([], ["**/*.min.js"], "/web/static/app.min.js", True),
        ([], ["*.env"], "/config/deploy.env", False),
        ([], ["config/*.env"], "/config/deploy.env", True),
        ([], ["config/?.env"], "/config/ab.env", False),
        (["lib"], [], "/lib/archive.jar!/META-INF/x", True),  # an archive member goes with its archive
        (["lib"], [], "/library/x", False),
    ],
)
def test_skip_rules(dirs: list[str], files: list[str], path: str, skipped: bool) -> None:
    assert SkipRules.compile(dirs, files).skips(path) is skipped


def test_split_patterns_and_empty_pattern() -> None:
    assert split_patterns(["a,b", " c "]) == ("a", "b", "c")
    with pytest.raises(InputError):
        SkipRules.compile(["./"], [])


def test_trivyignore_ids_comments_and_expiry() -> None:
    rules = parse_trivyignore(
        "# Accept the risk\nCVE-2018-14618\n\n# until\nCVE-2019-14697 exp:2023-01-01\n"
        "generic-unwanted-rule  # trailing comment\nAVD-DS-0002\n",
        ".trivyignore",
    )
    assert [(r.ids, r.where) for r in rules] == [
        (("CVE-2018-14618",), ".trivyignore:2"),
        (("CVE-2019-14697",), ".trivyignore:5"),
        (("generic-unwanted-rule",), ".trivyignore:6"),
        (("AVD-DS-0002",), ".trivyignore:7"),
    ]
    assert rules[0].expires == NO_EXPIRY and rules[1].expires == dt.date(2023, 1, 1)
    assert rules[1].expired(dt.date(2023, 1, 2)) and not rules[1].expired(dt.date(2023, 1, 1))


@pytest.mark.parametrize(
    "text", ["CVE-1 exp:2023-13-01\n", "CVE-1 until:2023-01-01\n", "$(rm -rf /)\n", "CVE-1 exp:\n"]
)
def test_trivyignore_errors_name_the_line(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\.trivyignore:1"):
        parse_trivyignore(text, ".trivyignore")
