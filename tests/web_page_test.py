#!/usr/bin/python3
"""The server's search page (server/web/) in a real headless Chromium.

Publishes a tiny model version (tests/tiny_version.sh), starts the retrieval
server with its REST port and a bearer token, then drives the page through
chromedriver (Debian's chromium, chromium-driver and python3-selenium):

  * the first request answers 401: the token field appears with the server's
    message; after the token is entered the page loads the model's info
    (versions, attribute vocabulary);
  * a typed query shows exactly the server's top 10 in order (fetched
    independently over REST and compared with the C++ query client over
    gRPC), with thumbnails loaded through the bearer header and the version
    that answered;
  * the next page shows ranks 11-20, the previous page ranks 1-10 again;
  * "more like this" on a result searches with that image's bytes: the
    image itself ranks first (exact Flat index);
  * a vehicle colour filter shows the server's filtered ranking;
  * a request the server refuses shows its status and message;
  * choosing version 2 (no attribute heads) hides the filters and shows
    version 2's ranking, and says that version 2 answered.

Screenshots go to $TEST_UNDECLARED_OUTPUTS_DIR/web_page.png and, when set, to
$WEB_PAGE_SCREENSHOT (a copy for the README).

Args: datagen train export retrieval_server query
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "web-page-test-token"
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def require_browser():
    """Fails (never skips) when the browser stack is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium Python module")
    if missing:
        fail("missing " + ", ".join(missing) + ": install the Debian packages "
             "chromium, chromium-driver and python3-selenium "
             "(deploy/install_deps.sh installs them)")


def start_browser(user_data_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Headless, and nothing that reaches the network on its own.
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1100",
                "--user-data-dir=" + user_data_dir):
        options.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER,
                      log_path=os.path.join(user_data_dir, "chromedriver.log"))
    return webdriver.Chrome(service=service, options=options)


class Rest:
    """The REST API, called directly (the page's expected answers)."""

    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def search(self, text, top_k=10, offset=0, **extra):
        # The gateway takes the text as a plain JSON string (not base64).
        body = {"text": text, "topK": top_k, "offset": offset}
        body.update(extra)
        return self.call("POST", "/v1/search", body)


def names(response):
    return [h["imageName"] for h in response.get("hits", [])]


class Page:
    """The page as the test sees it."""

    def __init__(self, driver):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver, self.By, self.Wait = driver, By, WebDriverWait

    def find(self, css):
        return self.driver.find_element(self.By.CSS_SELECTOR, css)

    def wait(self, what, predicate, timeout=60):
        try:
            return self.Wait(self.driver, timeout, poll_frequency=0.05).until(
                lambda d: predicate())
        except Exception:  # TimeoutException, with the page state below
            self.screenshot("web_page_failure.png")
            error = self.js("return document.getElementById('error').textContent")
            fail("timed out waiting for %s (page error: '%s')" % (what, error))

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def searches(self):
        return int(self.find("#results").get_attribute("data-searches"))

    def idle(self):
        return self.js("return document.body.dataset.busy") == "0"

    def wait_search(self, before, what):
        """Waits for the search after `before` completed ones, and for every
        thumbnail of it to load; returns the cards as (rank, name)."""
        self.wait(what, lambda: self.searches() > before and self.idle())
        self.wait(what + " thumbnails", lambda: self.js(
            "return [...document.querySelectorAll('#results img')]"
            ".every(i => i.dataset.loaded === '1')"))
        return self.cards()

    def cards(self):
        return self.js(
            "return [...document.querySelectorAll('#results .result-card')]"
            ".map(c => [Number(c.dataset.rank), c.dataset.name])")

    def error(self):
        return self.js("const e = document.getElementById('error');"
                       "return e.hidden ? '' : e.textContent")

    def screenshot(self, name):
        for directory in filter(None, [os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")]):
            os.makedirs(directory, exist_ok=True)
            self.driver.save_screenshot(os.path.join(directory, name))


def check_page(driver, url, rest, query_text, grpc_top10):
    page = Page(driver)
    t0 = time.monotonic()
    driver.get(url)

    # 1. No token yet: the model info request answers 401.
    page.wait("the token field", lambda: page.find("#token-box").is_displayed())
    if "UNAUTHENTICATED" not in page.error():
        fail("the 401 is not shown: error box says '%s'" % page.error())
    page.find("#token").send_keys(TOKEN)
    page.find("#token-save").click()
    page.wait("the model info", lambda: page.js("return document.body.dataset.ready") == "1")
    if page.find("#token-box").is_displayed() or page.error():
        fail("token accepted but the page still shows '%s'" % page.error())

    info = rest.call("GET", "/v1/modelInfo")
    versions = page.js("return [...document.querySelectorAll('#model-version option')]"
                       ".map(o => o.value)")
    if versions != [str(v) for v in info["loadedVersions"]] or versions != ["1", "2"]:
        fail("version choice %s, loadedVersions %s (want 1 and 2)"
             % (versions, info["loadedVersions"]))
    if page.find("#model-version").get_attribute("value") != str(info["defaultVersion"]):
        fail("the default version is not selected")
    if not page.find("#attribute-filters").is_displayed():
        fail("the attribute filters are hidden on a version with attribute heads")
    vocab = info["attributeVocabulary"]
    colors = page.js("return [...document.querySelectorAll('#filter-vehicle-color option')]"
                     ".map(o => o.value)")
    if colors != [""] + vocab["vehicleColors"]:
        fail("colour choice %s, vocabulary %s" % (colors, vocab["vehicleColors"]))
    flags = page.js("return [...document.querySelectorAll('#filter-pedestrian-flags select')]"
                    ".map(s => s.dataset.flag)")
    if flags != vocab["pedestrianFlags"]:
        fail("flag controls %s, vocabulary %s" % (flags, vocab["pedestrianFlags"]))

    # 2. A typed query: exactly the server's top 10, in order.
    expected = rest.search(query_text)
    if names(expected) != grpc_top10:
        fail("REST and gRPC disagree on the top 10: %s vs %s" % (names(expected), grpc_top10))
    before = page.searches()
    box = page.find("#query-text")
    box.send_keys(query_text)
    page.find("#search-button").click()
    cards = page.wait_search(before, "the first search")
    want = list(enumerate(names(expected), start=1))
    if [tuple(c) for c in cards] != want:
        fail("grid %s, server %s" % (cards, want))
    score = page.find('.result-card[data-rank="1"] .score').text
    if score != "%.4f" % expected["hits"][0].get("score", 0):
        fail("rank 1 shows score %s, server %s" % (score, expected["hits"][0]))
    version = page.find("#answered-version").text
    if version != str(expected["modelVersion"]):
        fail("answered version shown '%s', server %s" % (version, expected["modelVersion"]))
    sizes = page.js("return [...document.querySelectorAll('#results img')]"
                    ".map(i => Math.max(i.naturalWidth, i.naturalHeight))")
    if any(s != 160 for s in sizes):
        fail("thumbnails' longer sides %s, want 160 (size=160)" % sizes)
    if page.find("#prev-page").is_enabled() or not page.find("#next-page").is_enabled():
        fail("on page 1 of 4, previous must be disabled and next enabled")
    shot = page.driver.get_screenshot_as_png()

    # 3. Paging: ranks 11-20, then back to 1-10.
    second = rest.search(query_text, offset=10)
    before = page.searches()
    page.find("#next-page").click()
    cards = page.wait_search(before, "page 2")
    if [tuple(c) for c in cards] != list(enumerate(names(second), start=11)):
        fail("page 2 %s, server %s" % (cards, names(second)))
    if not page.find("#prev-page").is_enabled():
        fail("previous is disabled on page 2")
    before = page.searches()
    page.find("#prev-page").click()
    cards = page.wait_search(before, "page 1 again")
    if [tuple(c) for c in cards] != want:
        fail("back on page 1: %s" % cards)

    # 4. More like this: the image itself ranks first.
    target = names(expected)[2]
    before = page.searches()
    page.find('.result-card[data-rank="3"] .more-like-this').click()
    cards = page.wait_search(before, "more like this")
    if cards[0] != [1, target]:
        fail("more like %s: top hit %s" % (target, cards[0]))
    if page.find("#answered-version").text != str(expected["modelVersion"]):
        fail("more like this answered by version %s" % page.find("#answered-version").text)
    if target not in page.find("#query-summary").text:
        fail("the summary does not name the example image: '%s'"
             % page.find("#query-summary").text)

    # 5. A vehicle colour filter, back on the text query.
    every = rest.search(query_text, top_k=40)
    recorded = [h["attributes"].get("vehicleColor") for h in every["hits"]
                if h.get("attributes", {}).get("vehicleColor")]
    if not recorded:
        fail("no gallery vehicle has a recorded colour")
    color = recorded[0]
    filtered = rest.search(query_text, filter={"vehicleColor": color})
    before = page.searches()
    box.clear()
    box.send_keys(query_text)
    page.find("#search-button").click()
    page.wait_search(before, "the text query again")
    before = page.searches()
    page.js("const s = document.getElementById('filter-vehicle-color');"
            "s.value = arguments[0]; s.dispatchEvent(new Event('change'));", color)
    cards = page.wait_search(before, "the colour filter")
    if [tuple(c) for c in cards] != list(enumerate(names(filtered), start=1)):
        fail("filtered grid %s, server %s" % (cards, names(filtered)))
    shown = page.find("#query-summary").get_attribute("data-num-candidates")
    if shown != str(filtered["numCandidates"]):
        fail("candidates shown %s, server %s" % (shown, filtered["numCandidates"]))

    # 6. A request the server refuses: its status and message are shown.
    before_error = page.searches()
    page.js("const s = document.getElementById('filter-vehicle-color');"
            "const o = document.createElement('option'); o.value = 'chartreuse';"
            "s.appendChild(o); s.value = 'chartreuse';"
            "s.dispatchEvent(new Event('change'));")
    page.wait("the error message", lambda: page.error() and page.idle())
    message = page.error()
    if not message.startswith("INVALID_ARGUMENT: ") or "vehicle_color" not in message:
        fail("error shown '%s', want INVALID_ARGUMENT naming vehicle_color" % message)
    if page.searches() != before_error:
        fail("a refused search replaced the grid")

    # 7. The other version (no attribute heads): the filters go, the query is
    # asked again of version 2, and the page says so.
    plain = rest.search(query_text, modelVersion="2")
    if str(plain["modelVersion"]) != "2":
        fail("REST answered version %s for modelVersion 2" % plain["modelVersion"])
    before = page.searches()
    page.js("const s = document.getElementById('model-version');"
            "s.value = '2'; s.dispatchEvent(new Event('change'));")
    cards = page.wait_search(before, "the search on version 2")
    if page.find("#attribute-filters").is_displayed():
        fail("the attribute filters are shown on a version without attribute heads")
    if page.error():
        fail("version 2 shows the error '%s'" % page.error())
    if [tuple(c) for c in cards] != list(enumerate(names(plain), start=1)):
        fail("version 2 grid %s, server %s" % (cards, names(plain)))
    if page.find("#answered-version").text != "2":
        fail("answered version shown '%s', want 2" % page.find("#answered-version").text)
    if page.find("#model-info").get_attribute("data-model-version") != "2":
        fail("the model line does not describe version 2")
    elapsed = time.monotonic() - t0
    return shot, elapsed


def wait_addresses(proc, out_path, deadline_s=120):
    """The gRPC address and the REST base URL the server prints ("listening
    on HOST:PORT", "REST on http://HOST:PORT/"), or None if it exits first."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and proc.poll() is None:
        grpc_addr = base = None
        with open(out_path) as f:
            for line in f:
                if line.startswith("listening on "):
                    grpc_addr = line.split()[2]
                elif line.startswith("REST on "):
                    base = line.split()[2].rstrip("/")
        if grpc_addr and base:
            return grpc_addr, base
        time.sleep(0.1)
    return None


def wait_ready(proc, rest, deadline_s=120):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            rest.call("GET", "/v1/modelInfo")
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    return False


def main(argv):
    if len(argv) != 6:
        fail("usage: web_page_test.py datagen train export retrieval_server query")
    datagen, train, export, server, query = [os.path.abspath(a) for a in argv[1:]]
    require_browser()
    work = tempfile.mkdtemp(prefix="web_page_", dir=os.environ.get("TEST_TMPDIR"))
    t0 = time.monotonic()
    subprocess.run([os.path.join(HERE, "tiny_version.sh"), datagen, train, export, work,
                    "--plain"], check=True)
    t_model = time.monotonic() - t0
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    log = open(os.path.join(work, "server.log"), "w")
    out_path = os.path.join(work, "server.out")
    proc = subprocess.Popen(
        [server, "--models_dir=" + os.path.join(work, "models"), "--port=0",
         "--http_port=0", "--metrics_port=-1", "--reload_interval_s=0",
         "--model_versions=latest:2", "--default_version=1",
         "--threads=1", "--auth_token_file=" + os.path.join(work, "token")],
        stdout=open(out_path, "w"), stderr=log)
    driver = None
    try:
        addresses = wait_addresses(proc, out_path)
        if addresses is None:
            log.flush()
            fail("the server printed no 'listening on' and 'REST on' lines:\n%s"
                 % open(log.name).read()[-3000:])
        grpc_addr, base = addresses
        rest = Rest(base, TOKEN)
        if not wait_ready(proc, rest):
            log.flush()
            fail("the server's REST port (%s) did not answer:\n%s"
                 % (base, open(log.name).read()[-3000:]))
        with open(os.path.join(work, "data", "test", "test_text.txt")) as f:
            query_text = f.readline().strip()
        table = subprocess.run(
            [query, "--server=" + grpc_addr, "--text=" + query_text, "--top_k=10",
             "--auth_token_file=" + os.path.join(work, "token")],
            check=True, capture_output=True, text=True).stdout.splitlines()
        grpc_top10 = [line.split()[2] for line in table[2:]]

        profile = os.path.join(work, "chromium-profile")
        os.makedirs(profile)
        t1 = time.monotonic()
        driver = start_browser(profile)
        t_browser = time.monotonic() - t1
        shot, t_page = check_page(driver, rest.base + "/", rest, query_text, grpc_top10)
        targets = [os.path.join(d, "web_page.png") for d in
                   filter(None, [os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")])]
        if os.environ.get("WEB_PAGE_SCREENSHOT"):
            targets.append(os.environ["WEB_PAGE_SCREENSHOT"])
        for path in targets:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(shot)
            os.replace(tmp, path)
        print("model %.1fs, browser start %.1fs, page checks %.1fs"
              % (t_model, t_browser, t_page))
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    if not os.environ.get("TEST_TMPDIR"):
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main(sys.argv)
