"""What every CLI command shares: exit codes, shared options, the stderr console, error mapping, scan helpers.

Subcommand modules import from here, never from ``shieldwall.cli.main`` (which
imports them). Everything heavy (the service layer, reporters, the store) is
imported inside the function that needs it, so that importing this module
costs nothing on ``shieldwall --help``.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shieldwall.errors import InputError, ShieldwallError
from shieldwall.scanopts import ALL_SCANNERS, ScanOptions

if TYPE_CHECKING:
    from rich.console import Console

    from shieldwall.model import ScanResult
    from shieldwall.service.progress import ScanProgress

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3

T = TypeVar("T")

PlatformOpt = Annotated[
    str, typer.Option("--platform", help="os/arch or os/arch/variant to pick from a multi-platform image.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display, no summary on stderr.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Ignore and do not fill the per-layer cache.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]


def stderr_console() -> Console:
    """A rich console on standard error (diagnoses, progress, summaries)."""
    from rich.console import Console

    return Console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` (one line, untrusted text escaped) and return the exit to raise."""
    from shieldwall.report.safe_text import print_error

    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    print_error(stderr_console(), message)
    return typer.Exit(code)


def guarded(action: Callable[[], T], debug: bool) -> T:
    """Run ``action`` and map errors to the documented exit codes."""
    try:
        return action()
    except InputError as exc:
        raise fail(str(exc), EXIT_INPUT) from None
    except ShieldwallError as exc:
        raise fail(str(exc), EXIT_INTERNAL) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except Exception as exc:
        if debug:
            traceback.print_exc()
        raise fail(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", EXIT_INTERNAL
        ) from None


@contextlib.contextmanager
def scan_progress(quiet: bool) -> Iterator[ScanProgress]:
    """A live progress display on a terminal; nothing when quiet or when stderr is not a terminal."""
    from shieldwall.service.progress import NullProgress

    console = stderr_console()
    if quiet or not console.is_terminal:
        yield NullProgress()
        return
    from shieldwall.cli.progress import RichScanProgress

    with RichScanProgress(console) as progress:
        yield progress


def write_output(text: str, path: str) -> None:
    """Write a report to ``path`` ('-' is stdout); devices and FIFOs are written into, only regular files replaced."""
    from shieldwall.report.write import write_report

    write_report(text, path)


def parse_scanners(text: str) -> frozenset[str]:
    """Parse ``--scanners``; an unknown family is a usage error."""
    if not text:
        return ALL_SCANNERS
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - ALL_SCANNERS
    if unknown:
        raise InputError(
            f"unknown scanner(s) {', '.join(sorted(unknown))} (choose from {', '.join(sorted(ALL_SCANNERS))})"
        )
    return chosen


def scan_options(platform: str, no_cache: bool, scanners: str = "") -> ScanOptions:
    """The scan options the common flags (``--platform``, ``--no-cache``, ``--scanners``) ask for."""
    return ScanOptions(platform=platform, use_cache=not no_cache, scanners=parse_scanners(scanners))


def run_scan(target: str, options: ScanOptions, quiet: bool) -> ScanResult:
    """Scan ``target`` with a progress display (unless quiet)."""
    from shieldwall.service.scan import scan_target

    with scan_progress(quiet) as progress:
        return scan_target(target, options, progress)
