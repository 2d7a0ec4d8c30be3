#!/usr/bin/env python3
"""browser_check.py: a person's walk through `herald serve` in headless Chromium.

Usage:
  python3 .ci/browser_check.py --herald target/release/herald [--out target/screenshots]

Copies the repository's example site (config/, content/, templates/) to a temp dir, points
`serve.public_url` at a free loopback port, starts `herald serve` there (with --now, so the
walk does not depend on the machine's date), and drives Debian's chromium through
chromedriver's WebDriver HTTP API (standard library only, no Selenium):

 1. /subscribe: the form (desktop, phone width, dark mode); a mistyped address gives 400 with
    the form and a message; a real one gives "Check your inbox".
 2. The confirmation link from outbox/confirm/<address>.eml: the one-button page, then
    "You're subscribed"; the same link again: "already used". No link in the mail carries
    the address, raw, percent-encoded or in a token's base64.
 3. The welcome mail in outbox/welcome/<address>.eml names the lists joined with their
    schedules and links the preferences page. That page (desktop and dark mode) shows every
    list ticked where the reader gets it; unticking one list, ticking another and renaming,
    then Save, shows "Saved." and `herald subscribers list` agrees.
 4. `herald publish`: the next due post arrives in outbox/ for the new address, with a
    List-Unsubscribe link; opening it shows the one-button page, then "You're unsubscribed".
    The post's "Manage your subscription" link opens the preferences page again, and its
    "Leave everything" button leaves every list. The confirmation, welcome and post mails are
    shown as a mail client shows their HTML.
 5. RFC 8058 one-click (as a mail provider does it, with urllib) on another subscriber's
    mail: 200 with an empty body.
 6. SIGTERM: herald serve exits 0.

Every page is saved as target/screenshots/NN-name.png and audited with axe-core (every rule
on serve's pages; the WCAG 2.x A/AA rules on the mails). The check fails when a page lacks its
expected text, answers with the wrong status or breaks an accessibility rule. Exits 1 listing every problem, 2 on a set-up
error (no chromium, serve did not start), 3 when Chromium itself stopped answering a command
for COMMAND_TIMEOUT seconds (browser.sh then runs the walk once more, with a new browser).
"""
import argparse
import base64
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-12-01T00:00:00Z"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-default-browser-check", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--disable-breakpad",
    "--disable-client-side-phishing-detection", "--metrics-recording-only", "--no-pings",
    "--safebrowsing-disable-auto-update", "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
    # Keep the one tab's compositor producing frames: a headless renderer it deems idle or in the
    # background can leave Page.captureScreenshot waiting for a frame that never comes.
    "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--disable-ipc-flooding-protection",
    "--disable-hang-monitor",
]
# How long one WebDriver command may take before the browser counts as stalled.
COMMAND_TIMEOUT = 60


class SetupError(Exception):
    pass


class BrowserStall(Exception):
    """Chromium stopped answering: a fault of the browser, not of the pages (exit code 3)."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise SetupError(f"nothing answered at {url} within {timeout}s")


class WebDriver:
    """The few WebDriver commands this check needs."""

    def __init__(self, port, user_data_dir):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": shutil.which("chromium") or "/usr/bin/chromium",
                "args": CHROMIUM_FLAGS + [f"--user-data-dir={user_data_dir}", "--window-size=1280,900"],
            },
        }}}
        self.session = self._call("POST", "/session", caps, timeout=120)["sessionId"]
        self.cmd("POST", "/timeouts", {"script": 30000, "pageLoad": 60000})

    def _call(self, method, path, body=None, timeout=COMMAND_TIMEOUT):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise SetupError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from None
        except (TimeoutError, socket.timeout) as e:
            raise BrowserStall(f"webdriver {method} {path}: no answer within {timeout}s") from e

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def type(self, css, text):
        el = self.find(css)
        self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def is_checked(self, css):
        return self.cmd("GET", f"/element/{self.find(css)}/selected")

    def value(self, css):
        return self.cmd("GET", f"/element/{self.find(css)}/property/value")

    def text(self):
        return self.cmd("GET", f"/element/{self.find('body')}/text")

    def url(self):
        return self.cmd("GET", "/url")

    def size(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def color_scheme(self, scheme):
        self.cdp("Emulation.setEmulatedMedia",
                 {"features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def cdp(self, cmd, params=None):
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params or {}})

    def frames_flowing(self):
        """True once the page has painted two animation frames (within the script timeout)."""
        try:
            return self.cmd("POST", "/execute/async", {"args": [], "script":
                            "const done = arguments[arguments.length - 1];"
                            "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"})
        except SetupError:  # a script timeout: the renderer produced no frame
            return False

    def settle(self):
        """Make sure the compositor is producing frames before asking for one.

        A headless renderer that went idle can leave a capture waiting forever; a short
        screencast wakes it up (the remedy known from headless Chrome's issue trackers).
        """
        for _ in range(3):
            if self.frames_flowing():
                return
            self.cdp("Page.startScreencast", {"format": "jpeg", "quality": 10, "everyNthFrame": 1})
            time.sleep(0.3)
            self.cdp("Page.stopScreencast")
        raise BrowserStall("the page paints no frames, even after a screencast kick")

    def screenshot(self, path):
        """The whole page: the window grows to the page's height, then a plain capture."""
        self.settle()
        inner, full = self.cmd("POST", "/execute/sync", {"args": [], "script":
                               "return [window.innerHeight,"
                               " Math.ceil(document.documentElement.getBoundingClientRect().height)];"})
        rect = self.cmd("GET", "/window/rect")
        grow = min(max(full - inner, 0), 4000)
        if grow:
            self.cmd("POST", "/window/rect", {"width": rect["width"], "height": rect["height"] + grow})
            self.settle()
        try:
            png = self.cmd("GET", "/screenshot")
        finally:
            if grow:
                self.cmd("POST", "/window/rect", {"width": rect["width"], "height": rect["height"]})
        Path(path).write_bytes(base64.b64decode(png))

    def audit(self, axe_js, wcag_only=False):
        """axe-core's accessibility rules on the current page: a list of violations. Web pages
        get every rule, best practices (landmarks, headings) included; a mail, which has no
        page structure of its own, gets the WCAG 2.x A and AA rules."""
        self.cmd("POST", "/execute/sync", {"args": [], "script": axe_js + "\nreturn true;"})
        options = {"resultTypes": ["violations"]}
        if wcag_only:
            options["runOnly"] = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
        return self.cmd("POST", "/execute/async", {"args": [options], "script": """
            const done = arguments[arguments.length - 1];
            axe.run(document, arguments[0])
              .then(r => done(r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
              }))))
              .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
        """})

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.session}")
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def mail(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def text_part(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def links_in(msg):
    """Every http(s) URL of a mail: its headers, its text part, and the hrefs of its HTML part."""
    html_part = msg.get_body(preferencelist=("html",))
    html = html_part.get_content().replace("&amp;", "&") if html_part else ""
    head = " ".join(str(v) for v in msg.values())
    return re.findall(r"https?://[^\s\"'<>]+", head + "\n" + text_part(msg) + "\n" + html)


def address_in(url, address):
    """Why `url` gives `address` away (as it is, percent-encoded, or in a token's base64), or None."""
    low, addr = url.lower(), address.lower()
    if addr in low:
        return "the address"
    if urllib.parse.quote(addr, safe="").lower() in low:
        return "the address, percent-encoded"
    for part in re.split(r"[?&=./]", url):
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8", "replace")
        except ValueError:
            continue
        if addr in decoded.lower():
            return f"a token naming it: {decoded}"
    return None


def status_of(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--herald", required=True)
    ap.add_argument("--out", default="target/screenshots")
    ap.add_argument("--axe", required=True, help="axe-core's axe.min.js (npm package axe-core)")
    args = ap.parse_args()
    herald = str(Path(args.herald).resolve())
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            raise SetupError(f"{tool} is not installed (apt-get install chromium chromium-driver)")

    axe_js = Path(args.axe).read_text(encoding="utf-8")
    problems = []
    shots = []
    audited = []
    work = Path(tempfile.mkdtemp(prefix="herald-browser-"))
    site = work / "site"
    site.mkdir()
    for d in ("config", "content", "templates"):
        if (REPO / d).is_dir():
            shutil.copytree(REPO / d, site / d)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with open(site / "config/herald.yaml", "a", encoding="utf-8") as f:
        f.write(f"\nserve:\n  listen: 127.0.0.1:{port}\n  public_url: {base}\n")

    def run(*argv):
        return subprocess.run([herald, "--site", str(site), "--now", NOW, *argv],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

    def subscriber(address):
        """The address's entry in `herald subscribers list --json` (None if absent)."""
        listed = run("subscribers", "list", "--json")
        if listed.returncode != 0:
            raise SetupError(f"herald subscribers list --json failed: {listed.stderr}")
        return {m["email"]: m for m in json.loads(listed.stdout)}.get(address)

    serve_log = open(work / "serve.log", "w+", encoding="utf-8")
    serve = subprocess.Popen([herald, "--site", str(site), "--now", NOW, "serve"],
                             stdout=subprocess.DEVNULL, stderr=serve_log, stdin=subprocess.DEVNULL)
    driver_port = free_port()
    # Its own process group, so that chromedriver and every Chromium process it started can be
    # stopped together, even when the browser no longer answers.
    driver = subprocess.Popen(["chromedriver", f"--port={driver_port}"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = None
    stalled = None
    try:
        wait_http(base + "healthz")
        wait_http(f"http://127.0.0.1:{driver_port}/status")
        wd = WebDriver(driver_port, work / "chromium-profile")

        def page(name, expect, mail=False):
            """Screenshot the current page, check that it shows `expect`, audit it with axe."""
            path = out / f"{len(shots) + 1:02d}-{name}.png"
            wd.screenshot(path)
            shots.append(path)
            body = wd.text()
            for want in ([expect] if isinstance(expect, str) else expect):
                if want not in body:
                    problems.append(f"{path.name}: expected {want!r} on {wd.url()}, page says:\n    "
                                    + body.replace("\n", "\n    "))
            for v in wd.audit(axe_js, wcag_only=mail):
                problems.append(f"{path.name}: accessibility: {v['id']} ({v['impact']}): {v['help']}"
                                f" at {', '.join(v['nodes']) or wd.url()}")
            audited.append(path)
            return body

        # 1. The sign-up form, wide, narrow and dark.
        wd.get(base + "subscribe")
        page("subscribe", ["Subscribe", "Email address", "Name (optional)", "Everything from LeadCraftr",
                           "Business growth", "Conversion rate"])
        if "Leave this field empty" in wd.text():
            problems.append("the honeypot field is visible")
        wd.size(390, 844)
        page("subscribe-phone", ["Subscribe", "Email address"])
        wd.color_scheme("dark")
        page("subscribe-dark", ["Subscribe"])
        wd.color_scheme("light")
        wd.size(1280, 900)

        wd.type("#email", "reader@example")
        wd.type("#name", "Rea <b>Der</b>")
        wd.click("button[type=submit]")
        page("subscribe-error", ["is not an email address"])
        if wd.value("#name") != "Rea <b>Der</b>" or wd.value("#email") != "reader@example":
            problems.append("the form lost what was typed: " + repr((wd.value("#email"), wd.value("#name"))))
        wd.type("#email", "reader@example.org")
        if not wd.is_checked("#list-all"):
            problems.append("the first list is not ticked by default")
        wd.click("#list-growth")
        wd.click("button[type=submit]")
        page("check-inbox", ["Check your inbox", "reader@example.org"])

        # 2. The confirmation mail and its link.
        eml = site / "outbox/confirm/reader@example.org.eml"
        if not eml.exists():
            raise SetupError(f"no confirmation mail at {eml}")
        msg = mail(eml)
        m = re.search(r"(http://\S+/confirm\?token=\S+)", text_part(msg))
        if not m:
            raise SetupError(f"no confirmation link in {eml}")
        link = m.group(1)
        if "Rea <b>Der</b>" not in str(msg["To"]):
            problems.append(f"the To header lost the name: {msg['To']}")
        # The mail itself, as a mail client shows its HTML part.
        html_part = msg.get_body(preferencelist=("html",))
        (work / "confirm-mail.html").write_text(html_part.get_content() if html_part else "", encoding="utf-8")
        wd.get((work / "confirm-mail.html").as_uri())
        page("confirm-mail", mail=True, expect=["Please confirm your subscription", "Hi Rea <b>Der</b>", "reader@example.org",
                              "Business growth", "Yes, subscribe me"])
        wd.get(link)
        page("confirm", ["Confirm your subscription", "reader@example.org", "Everything from LeadCraftr",
                         "Business growth", "Yes, subscribe me"])
        wd.click("button[type=submit]")
        page("confirmed", ["You’re subscribed", "reader@example.org"])
        # The sign-up it named is spent: opening the link again says so at once.
        wd.get(link)
        page("link-used", ["This link was already used"])
        got = subscriber("reader@example.org")
        if not got or got["status"] != "active" or sorted(got["lists"]) != ["all", "growth"]:
            problems.append(f"after confirming, subscribers list says {got}")

        # 3. The welcome mail, and the preferences page it links.
        eml = site / "outbox/welcome/reader@example.org.eml"
        if not eml.exists():
            raise SetupError(f"no welcome mail at {eml}")
        welcome = mail(eml)
        html_part = welcome.get_body(preferencelist=("html",))
        (work / "welcome-mail.html").write_text(html_part.get_content() if html_part else "", encoding="utf-8")
        wd.get((work / "welcome-mail.html").as_uri())
        page("welcome-mail", mail=True, expect=["Welcome to LeadCraftr", "Hi Rea <b>Der</b>", "reader@example.org",
                              "Everything from LeadCraftr: every post", "Business growth: every post",
                              "Manage your subscription", "Unsubscribe"])
        if not str(welcome["List-Unsubscribe"] or "").startswith(f"<{base}unsubscribe?token="):
            problems.append(f"the welcome mail's List-Unsubscribe: {welcome['List-Unsubscribe']!r}")
        for which, m in (("confirmation", msg), ("welcome", welcome)):
            for url in links_in(m):
                why = address_in(url, "reader@example.org")
                if why:
                    problems.append(f"a link in the {which} mail gives the address away ({why}): {url}")
        m = re.search(r"(http://\S+/preferences\?token=\S+)", text_part(welcome))
        if not m:
            raise SetupError(f"no preferences link in {eml}")
        preferences = m.group(1)
        wd.get(preferences)
        page("preferences", ["Your subscription", "reader@example.org", "Everything from LeadCraftr",
                             "Business growth", "Conversion rate", "every post", "Save", "Leave everything"])
        ticked = {l: wd.is_checked(f"#list-{l}") for l in ("all", "growth", "conversion")}
        if ticked != {"all": True, "growth": True, "conversion": False}:
            problems.append(f"the preferences page ticks {ticked}, not the lists joined")
        if wd.value("#name") != "Rea <b>Der</b>":
            problems.append(f"the preferences page shows the name {wd.value('#name')!r}")
        wd.color_scheme("dark")
        page("preferences-dark", ["Your subscription"])
        wd.color_scheme("light")
        wd.click("#list-growth")
        wd.click("#list-conversion")
        wd.type("#name", "Rea Der")
        wd.click("button[value=save]")
        page("preferences-saved", ["Saved.", "reader@example.org gets Everything from LeadCraftr and Conversion rate"])
        got = subscriber("reader@example.org")
        if not got or got["status"] != "active" or sorted(got["lists"]) != ["all", "conversion"] \
                or got["name"] != "Rea Der":
            problems.append(f"after saving the preferences, subscribers list says {got}")

        # 4. The next due post reaches the new subscriber; its unsubscribe link works.
        published = run("publish")
        if published.returncode != 0:
            problems.append(f"herald publish exited {published.returncode}: {published.stderr}")
        mails = sorted(p for p in (site / "outbox").glob("*/reader@example.org.eml")
                       if p.parent.name not in ("confirm", "welcome"))
        if not mails:
            raise SetupError("publish mailed nothing to reader@example.org:\n" + published.stdout + published.stderr)
        post_mail = mail(mails[0])
        html_part = post_mail.get_body(preferencelist=("html",))
        (work / "post-mail.html").write_text(html_part.get_content() if html_part else "", encoding="utf-8")
        wd.get((work / "post-mail.html").as_uri())
        page("post-mail", mail=True, expect=[str(post_mail["Subject"]), "Manage your subscription", "Unsubscribe",
                                             "View in your browser"])
        for url in links_in(post_mail):
            why = address_in(url, "reader@example.org")
            if why:
                problems.append(f"a link in the post mail gives the address away ({why}): {url}")
        header = str(post_mail["List-Unsubscribe"] or "")
        m = re.search(r"<(http[^>]+)>", header)
        if not m:
            raise SetupError(f"no List-Unsubscribe URL in {mails[0]}: {header!r}")
        unsubscribe = m.group(1)
        if not unsubscribe.startswith(base + "unsubscribe?token="):
            problems.append(f"List-Unsubscribe points elsewhere: {unsubscribe}")
        wd.get(unsubscribe)
        page("unsubscribe", ["Unsubscribe", "reader@example.org"])
        wd.click("button[type=submit]")
        page("unsubscribed", ["You’re unsubscribed", "reader@example.org", "Subscribe again"])
        got = subscriber("reader@example.org") or {}
        if got.get("status") == "active" and "all" in got.get("lists", []):
            problems.append(f"still subscribed after unsubscribing: {got}")

        # The post's "Manage your subscription" link: the same page, and "Leave everything".
        m = re.search(r"(http://\S+/preferences\?token=\S+)", text_part(post_mail))
        if not m:
            raise SetupError(f"no preferences link in {mails[0]}")
        wd.get(m.group(1))
        page("preferences-from-post", ["Your subscription", "reader@example.org", "Leave everything"])
        wd.click("button[value=leave]")
        page("left-everything", ["You left every list", "reader@example.org"])
        got = subscriber("reader@example.org") or {}
        if got.get("status") != "unsubscribed" or got.get("lists"):
            problems.append(f"after leaving everything, subscribers list says {got}")

        # A page a visitor can reach by mistake.
        wd.get(base + "confirm?token=nonsense")
        page("bad-link", ["This link does not work"])

        # 5. RFC 8058 one-click, as a mail provider sends it, for another subscriber.
        other = next((p for p in sorted((site / "outbox").glob("*/*.eml"))
                      if p.parent.name not in ("confirm", "welcome") and p.name != "reader@example.org.eml"), None)
        if not other:
            raise SetupError("publish mailed no other subscriber: nothing to unsubscribe with one click")
        url = re.search(r"<(http[^>]+)>", str(mail(other)["List-Unsubscribe"])).group(1)
        status, body = status_of(url, b"List-Unsubscribe=One-Click",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if (status, body) != (200, b""):
            problems.append(f"one-click unsubscribe answered {status} {body[:200]!r}")

        # The feeds a reader's app would fetch.
        for path, ctype in (("rss.xml", "application/rss+xml"), ("atom.xml", "application/atom+xml"),
                            ("feed.json", "application/feed+json"), ("feeds.opml", "text/x-opml")):
            with urllib.request.urlopen(base + path, timeout=30) as r:
                if not r.headers.get("Content-Type", "").startswith(ctype):
                    problems.append(f"/{path}: Content-Type {r.headers.get('Content-Type')}")
    except SetupError as e:
        problems.append(str(e))
    except BrowserStall as e:
        stalled = str(e)
    finally:
        if wd and not stalled:
            wd.quit()
        try:
            os.killpg(driver.pid, signal.SIGTERM)
            driver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        except ProcessLookupError:
            pass
        serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(timeout=60)
            if code != 0:
                problems.append(f"herald serve exited {code} after SIGTERM")
        except subprocess.TimeoutExpired:
            serve.kill()
            problems.append("herald serve did not exit within 60s of SIGTERM")
        serve_log.seek(0)
        log = serve_log.read()
        serve_log.close()
        shutil.rmtree(work, ignore_errors=True)

    if "token=" in log or re.search(r"eyJ[0-9A-Za-z_-]{20,}", log):
        problems.append("a token reached serve's log")
    if " 500 " in log:
        problems.append("serve answered 500:\n" + log)
    for s in shots:
        print(f"browser: saved {s}")
    if stalled:
        print(f"browser: Chromium stalled ({stalled}); {len(problems)} problem(s) seen before that",
              file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 3
    if problems:
        print(f"browser: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print("--- serve log\n" + log, file=sys.stderr)
        return 1
    print(f"browser: {len(shots)} pages checked, {len(audited)} of them by axe-core, 0 problems")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as e:
        print(f"browser: {e}", file=sys.stderr)
        sys.exit(2)
