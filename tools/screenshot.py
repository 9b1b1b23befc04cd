"""Screenshot of an HTML report in headless Chromium: python tools/screenshot.py REPORT.html OUT.png [--width W]."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def screenshot(html: Path, png: Path, width: int) -> None:
    """Load `html` at `width` pixels and save the whole page's height as `png`."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--window-size={width},1000"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        browser.get(html.resolve().as_uri())
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        browser.save_screenshot(str(png))
    finally:
        browser.quit()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    screenshot(args.html, args.png, args.width)
