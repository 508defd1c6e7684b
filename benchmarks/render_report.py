"""Write the HTML dataset report of a database and, when chromium is installed, a PNG screenshot of it.

    python benchmarks/render_report.py --db demo.db [--out report.html] [--png report.png] [--run RUN_ID]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localace.cli.report import write_atomically  # noqa: E402
from localace.report_data import collect_report  # noqa: E402
from localace.report_html import render_report  # noqa: E402
from localace.store import open_store  # noqa: E402


def find_chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)


def screenshot(chromium: str, html: Path, png: Path, size: str = "1200,3000") -> None:
    """Headless render with every network feature off: the page must not need any."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", default="report.html")
    ap.add_argument("--png", default=None, help="default: the --out path with .png")
    ap.add_argument("--run", default=None)
    ap.add_argument("--window-size", default="1200,3000")
    args = ap.parse_args()
    if not Path(args.db).is_file():
        sys.exit(f"database not found: {args.db}")
    out = Path(args.out)
    store = open_store(args.db)
    t0 = time.perf_counter()
    data = collect_report(store, args.run)
    t1 = time.perf_counter()
    write_atomically(out, render_report(data))
    t2 = time.perf_counter()
    store.close()
    print(f"html: {out.resolve()} ({out.stat().st_size / 1024:.1f} kB; collect {t1 - t0:.2f}s, render {t2 - t1:.2f}s)")
    chromium = find_chromium()
    if chromium is None:
        print("png: skipped (chromium not installed)")
        return
    png = Path(args.png) if args.png else out.with_suffix(".png")
    screenshot(chromium, out, png, args.window_size)
    print(f"png: {png.resolve()} ({png.stat().st_size / 1024:.1f} kB)")


if __name__ == "__main__":
    main()
