"""Render every email kind with sample data and screenshot it with headless Chromium.

    .venv/bin/python -m mail.screenshots [--out docs/emails] [--keep-html]

Writes `<out>/<kind>.png` (the notification as `notification-benefit.png`,
`notification-standard.png` and the phone-width `notification-benefit-phone.png`);
`--locale de` renders only the notification, in that language, as `notification-de.png`.
Needs `chromium` on PATH (Debian: `apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from mail import samples
from mail.compose import KINDS, compose
from settings import Settings

DESKTOP = (700, 1000)
PHONE = (390, 1400)
NOTIFICATION_HEIGHT = 1560


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("chromium not found: install it with `apt-get install -y chromium`")


def screenshot(browser: str, html_file: Path, png: Path, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory(prefix="ft-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            html_file.resolve().as_uri(),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    if result.returncode != 0 or not png.exists():
        raise SystemExit(f"chromium failed for {html_file.name}: {result.stderr.strip()[-300:]}")


def _targets() -> list[tuple[str, str, str, tuple[int, int]]]:
    """(file stem, kind, referral type, window size) for every picture."""
    targets = [
        ("notification-benefit", "notification", "benefit", (DESKTOP[0], NOTIFICATION_HEIGHT)),
        ("notification-standard", "notification", "standard", (DESKTOP[0], NOTIFICATION_HEIGHT)),
        ("notification-benefit-phone", "notification", "benefit", (PHONE[0], 2050)),
    ]
    targets += [(kind, kind, "benefit", DESKTOP) for kind in KINDS if kind != "notification"]
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs") / "emails")
    parser.add_argument("--keep-html", action="store_true", help="also keep the rendered HTML")
    parser.add_argument("--locale", default="", help="only the notification, in this language")
    args = parser.parse_args(argv)
    browser = _chromium()
    settings = Settings()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ft-emails-") as tmp:
        targets = _targets()
        if args.locale:
            size = (DESKTOP[0], NOTIFICATION_HEIGHT)
            targets = [(f"notification-{args.locale}", "notification", "benefit", size)]
        for stem, kind, referral_type, size in targets:
            request = samples.request(kind, referral_type)
            if args.locale and request.partner is not None:
                request = replace(request, partner=replace(request.partner, locale=args.locale))
            composed = compose(request, settings, samples.links())
            html_dir = args.out if args.keep_html else Path(tmp)
            html_file = html_dir / f"{stem}.html"
            html_file.write_text(composed.html, encoding="utf-8")
            png = args.out / f"{stem}.png"
            png.unlink(missing_ok=True)
            screenshot(browser, html_file, png, size)
            print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
