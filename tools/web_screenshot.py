#!/usr/bin/python3
"""Screenshots the search page of a running server (the README's picture).

Opens http://HOST:PORT/ (the server's --http_port, e.g. tools/demo.sh
--serve) in a headless Chromium, searches for --text, waits for every
thumbnail, and writes a PNG. Needs Debian's chromium, chromium-driver and
python3-selenium (deploy/install_deps.sh).

Usage:
  tools/web_screenshot.py --url=http://127.0.0.1:8080/ --out=docs/images/web_page.png
      [--text="This is a white Audi."] [--category=vehicle] [--token_file=token]
      [--width=1280 --height=1000]
"""

import argparse
import os
import sys
import tempfile

CATEGORIES = {"": "", "pedestrian": "CATEGORY_PEDESTRIAN",
              "vehicle": "CATEGORY_VEHICLE", "auto": "CATEGORY_AUTO"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--text", default="This is a white Audi.")
    parser.add_argument("--category", choices=sorted(CATEGORIES), default="")
    parser.add_argument("--token_file")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--timeout_s", type=float, default=60)
    args = parser.parse_args()
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(path, os.X_OK):
            sys.exit("web_screenshot: no %s: install chromium and chromium-driver "
                     "(deploy/install_deps.sh)" % path)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        sys.exit("web_screenshot: needs python3-selenium (deploy/install_deps.sh); "
                 "run it with /usr/bin/python3")

    profile = tempfile.TemporaryDirectory(prefix="web_screenshot_")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=%d,%d" % (args.width, args.height),
                "--user-data-dir=" + profile.name):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, args.timeout_s, poll_frequency=0.1)
        js = driver.execute_script
        if args.token_file:
            with open(args.token_file) as f:
                token = f.read().strip()
            # The page keeps the token in sessionStorage; set it before it loads.
            driver.get(args.url.rstrip("/") + "/static/style.css")
            js("sessionStorage.setItem('retrieval-token', arguments[0])", token)
        driver.get(args.url)
        wait.until(lambda d: js("return document.body.dataset.ready === '1' || "
                                "!document.getElementById('error').hidden"))
        error = js("const e = document.getElementById('error');"
                   "return e.hidden ? '' : e.textContent")
        if error:
            sys.exit("web_screenshot: the page says: " + error)
        js("document.getElementById('category').value = arguments[0];"
           "document.getElementById('query-text').value = arguments[1];"
           "document.getElementById('search-form').requestSubmit();",
           CATEGORIES[args.category], args.text)
        wait.until(lambda d: js(
            "const r = document.getElementById('results');"
            "return (r.dataset.searches !== '0' && document.body.dataset.busy === '0' &&"
            " [...r.querySelectorAll('img')].every(i => i.dataset.loaded)) ||"
            " !document.getElementById('error').hidden"))
        error = js("const e = document.getElementById('error');"
                   "return e.hidden ? '' : e.textContent")
        if error:
            sys.exit("web_screenshot: the search failed: " + error)
        js("document.activeElement.blur()")
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, args.out)
    print("wrote %s (%d bytes)" % (args.out, len(png)))


if __name__ == "__main__":
    main()
