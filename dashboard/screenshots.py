"""Screenshots of the dashboard's main pages, for the README: ``python -m dashboard.screenshots``.

Needs a running server (``ladder serve``), a key that may read every page (admin),
Playwright for Python (the ``test`` extra) and Debian's Chromium::

    python -m dashboard.screenshots --url http://127.0.0.1:8080 --key ladder_… \\
        --out docs/screenshots --plan 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

SHOTS = (("overview", "/"), ("overview-quarter", "/?period=quarter"), ("plans", "/plans"),
         ("commitments", "/commitments"), ("budgets", "/budgets"),
         ("chargeback", "/chargeback?period=quarter"), ("runs", "/runs"), ("audit", "/audit"),
         ("spend", "/spend?period=quarter"), ("spend-forecast", "/spend-forecast"),
         ("variance", "/variance?as_of=2024-08-20"),
         ("unit-cost", "/unit-cost?metric=requests&per=1000"), ("sign-in", None))
"""(file name, path); the sign-in form is shot signed out."""


def take(url: str, key: str, out: Path, *, plan: int | None, width: int = 1400,
         chromium: str = "/usr/bin/chromium") -> list[Path]:
    """Sign in with ``key`` and save a full-page PNG of each page; the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = list(SHOTS) + ([(f"plan-{plan}", f"/plans/{plan}")] if plan else [])
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        signed_out = browser.new_page(viewport={"width": width, "height": 900})
        signed_out.goto(url + "/")
        written.append(out / "sign-in.png")
        signed_out.screenshot(path=str(written[-1]))
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(url + "/")
        page.fill("input[name=key]", key)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for name, path in shots:
            if path is None:
                continue
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            written.append(out / f"{name}.png")
            page.screenshot(path=str(written[-1]), full_page=True)
        browser.close()
    return written


def main() -> None:
    """Parse the arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--plan", type=int, default=None)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    for path in take(args.url.rstrip("/"), args.key, args.out, plan=args.plan,
                     width=args.width):
        print(path)


if __name__ == "__main__":
    main()
