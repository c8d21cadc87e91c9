"""``python -m shieldwall.demo [DIR]``: build the sample image and scan it, as ``make demo`` does."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from rich.console import Console

from shieldwall.demo import build_demo_image
from shieldwall.report.table import print_table
from shieldwall.service.scan import scan_target
from shieldwall.vulndb.samples import import_bundled_samples
from shieldwall.vulndb.store import default_db_path


def main(argv: list[str]) -> int:
    """Build the demo image into DIR (default ``.demo``), scan it, print the report."""
    out_dir = Path(argv[0] if argv else ".demo")
    console = Console()
    archive = build_demo_image(out_dir)
    count = import_bundled_samples(default_db_path())
    console.print(
        f"[bold]Built[/] {archive} from the bundled sample layers and imported {count} bundled sample"
        f" advisories into {default_db_path()} (offline; `shieldwall db update` fetches the full feeds)."
        " Scanning it:\n"
    )
    result = scan_target(f"docker-archive:{archive}")
    print_table(result, console)
    # The follow-up command must find the demo's advisory database (a scan without one fails closed).
    data = shlex.quote(str(default_db_path().parent.parent))
    console.print(
        f"\nTry: [bold]SHIELDWALL_DATA_DIR={data} .venv/bin/shieldwall scan docker-archive:{archive} --format json[/]"
        f" or [bold].venv/bin/shieldwall sbom docker-archive:{archive} --format spdx[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
