#!/usr/bin/env python3
"""imap_check.py: returned mail through a real IMAP server, as the site owner meets it.

Usage (imap_check.sh starts Dovecot and runs this):
  HERALD_IMAP_PASSWORD=... python3 .ci/imap_check.py --herald HERALD --port PORT --user USER

Copies tests/fixtures/newsletter/ to a temp dir with `newsletter.return_path` set and
`newsletter.bounces.imap` pointing at the server (plain IMAP, which herald allows on loopback
only), publishes it through the outbox, and makes bounces for the messages herald wrote from
tests/fixtures/bounces/ (their VERP Return-Path, Message-ID and recipient put in). Then, with
Python's imaplib as the relays that deliver bounces:

1. APPEND hard bounces (a DSN, Exim's prose), an ARF complaint, a holiday auto-reply, a letter
   from a person and garbage to the INBOX; `herald bounces fetch`: the members are bounced and
   complained, the four it dealt with are in herald-processed (created by herald), the two it
   could not attribute are left in the INBOX, unread;
2. fetch again: nothing read, nothing moved, `status --json` unchanged;
3. APPEND three soft bounces of one member and the hard DSN once more; `herald publish` (a new
   post due) reads them first: the member is bounced by the third soft bounce, the repeated DSN
   counts once, and the new post goes only to the one member still active;
4. `processed: delete`: what herald deals with is gone from the mailbox;
5. a wrong password: `bounces fetch` fails naming the login, never the password; `publish` only
   warns and goes on;
6. `status --json` counts each report once.

Exits 1 listing every problem. Needs only Python's standard library.
"""
import argparse
import imaplib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "bounces"
FIXTURE_VERP = "bounces+verptokenverptokenverptokenverptoken@notes.example.com"
FIXTURE_MESSAGE_ID = "5d0f1e2a3b4c5d6e7f8091a2b3c4d5e6@notes.example.com"
FIXTURE_RECIPIENT = "ann@example.com"
NOW = "2025-06-01T00:00:00Z"
LATER = "2025-06-11T00:00:00Z"

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
        print(f"imap_check: FAIL: {what}", file=sys.stderr)


class Site:
    def __init__(self, herald, root, port, user):
        self.herald, self.root, self.port, self.user = herald, root, port, user
        self.now = NOW

    def run(self, *args, password=None, expect=0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        if password is not None:
            env["HERALD_IMAP_PASSWORD"] = password
        p = subprocess.run(
            [self.herald, "--site", str(self.root), "--now", self.now, *args],
            capture_output=True, text=True, env=env, timeout=300,
        )
        check(
            p.returncode == expect,
            f"herald {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
            f"stdout: {p.stdout}\nstderr: {p.stderr}",
        )
        return p

    def config(self, text):
        (self.root / "config" / "herald.yaml").write_text(text)

    def read_config(self):
        return (self.root / "config" / "herald.yaml").read_text()

    def statuses(self):
        p = self.run("subscribers", "list", "--json")
        return {m["email"].lower(): m["status"] for m in json.loads(p.stdout or "[]")}

    def status(self):
        return json.loads(self.run("status", "--json").stdout or "{}")

    def craft(self, name, campaign, to):
        """Fixture `name` made about the mail herald wrote to `to` for `campaign`."""
        sent = (self.root / "outbox" / campaign / f"{to}.eml").read_text()
        head = sent.split("\r\n\r\n", 1)[0]
        verp = re.search(r"^Return-Path: <([^>]*)>", head, re.M | re.I).group(1)
        mid = re.search(r"^Message-ID: <([^>]*)>", head, re.M | re.I).group(1)
        text = (FIXTURES / name).read_bytes().decode("utf-8", "replace")
        text = (
            text.replace(FIXTURE_VERP, verp)
            .replace(FIXTURE_MESSAGE_ID, mid)
            .replace(FIXTURE_RECIPIENT, to)
        )
        # Its own Message-ID, unique to (fixture, campaign, address), as a relay's would be.
        own = f"<{name}.{campaign}.{to}@relay.test>"
        header, sep, body = text.partition("\n\n") if "\r\n\r\n" not in text else text.partition("\r\n\r\n")
        header = re.sub(r"(?im)^message-id:.*$", f"Message-ID: {own}", header, count=1)
        return (header + sep + body).encode()


class Mailbox:
    def __init__(self, port, user, password):
        self.port, self.user, self.password = port, user, password

    def connect(self):
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login(self.user, self.password)
        return m

    def append(self, *messages):
        m = self.connect()
        for raw in messages:
            # IMAP literals take no NUL (without BINARY); the rest goes as it is.
            typ, data = m.append("INBOX", None, None, raw.replace(b"\0", b" "))
            check(typ == "OK", f"APPEND: {typ} {data}")
        m.logout()

    def folder(self, name):
        """(flags, bytes) of every message in `name`, or None when it does not exist."""
        m = self.connect()
        try:
            typ, _ = m.select(f'"{name}"', readonly=True)
            if typ != "OK":
                return None
            typ, data = m.search(None, "ALL")
            out = []
            for num in (data[0] or b"").split():
                typ, parts = m.fetch(num, "(FLAGS BODY.PEEK[])")
                flags = b""
                body = b""
                for part in parts:
                    if isinstance(part, tuple):
                        flags += part[0]
                        body = part[1]
                    elif isinstance(part, bytes):
                        flags += part
                out.append((flags.decode(), body))
            return out
        finally:
            m.logout()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--herald", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    args = ap.parse_args()
    password = os.environ.get("HERALD_IMAP_PASSWORD")
    if not password:
        sys.exit("imap_check: set HERALD_IMAP_PASSWORD")
    work = pathlib.Path(tempfile.mkdtemp(prefix="herald-imap-"))
    try:
        run(args, password, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print(f"imap_check: {len(problems)} problems", file=sys.stderr)
        sys.exit(1)
    print("imap_check: fetch, publish, move, delete, left alone, read once: all as expected")


def run(args, password, work):
    root = work / "site"
    shutil.copytree(ROOT / "tests" / "fixtures" / "newsletter", root)
    site = Site(args.herald, root, args.port, args.user)
    imap_block = (
        "  transport: outbox\n"
        "  return_path: bounces@notes.example.com\n"
        "  bounces:\n"
        "    imap:\n"
        "      host: 127.0.0.1\n"
        f"      port: {args.port}\n"
        "      security: none\n"
        f"      username: {args.user}\n"
        "      timeout_secs: 20\n"
    )
    site.config(site.read_config().replace("  transport: outbox\n", imap_block))
    box = Mailbox(args.port, args.user, password)

    # Publish once, with an empty mailbox: the 11 messages of the fixture go out.
    p = site.run("publish", password=password)
    check("mail: 11 sent" in p.stdout, f"first publish: {p.stdout}")

    # 1. Bounces, a complaint, an auto-reply, and two messages that name nobody.
    garbage = (FIXTURES / "garbage.bin").read_bytes()
    box.append(
        site.craft("dsn-hard.eml", "creme-brulee", "ann@example.com"),
        site.craft("arf-complaint.eml", "soup-and-bread", "dan@example.com"),
        site.craft("vacation.eml", "creme-brulee", "ann@example.com"),
        site.craft("exim.eml", "soup-and-bread", "bob@example.com"),
        (FIXTURES / "human.eml").read_bytes(),
        b"Subject: garbage\r\n\r\n" + garbage,
    )
    p = site.run("-v", "bounces", "fetch", password=password)
    want = (
        "bounces: 6 read: 2 hard bounces, 1 complaint, 1 ignored (auto-replies, delay warnings), "
        "2 unattributable; 2 addresses now bounced, 1 address now complained; "
        "4 moved to herald-processed, 2 left in INBOX"
    )
    check(want in p.stdout, f"first fetch said {p.stdout!r}, expected {want!r}")
    check(password not in p.stdout + p.stderr, "the password was printed")
    statuses = site.statuses()
    want = {
        "ann@example.com": "bounced",
        "bob@example.com": "bounced",
        "cara@example.com": "active",
        "dan@example.com": "complained",
    }
    check(statuses == want, f"after the first fetch: {statuses}")
    inbox = box.folder("INBOX")
    processed = box.folder("herald-processed")
    check(inbox is not None and len(inbox) == 2, f"INBOX after the fetch: {inbox and len(inbox)}")
    check(
        inbox is not None and all("\\Seen" not in f for f, _ in inbox),
        "a message left in the INBOX was marked \\Seen",
    )
    check(
        inbox is not None and sorted(b"Lovely post" in b for _, b in inbox) == [False, True],
        "the letter and the garbage are not what is left in the INBOX",
    )
    check(
        processed is not None and len(processed) == 4,
        f"herald-processed after the fetch: {processed and len(processed)}",
    )

    # 2. Again: nothing new.
    before = site.status()
    p = site.run("bounces", "fetch", password=password)
    want = "bounces: 0 read; 0 moved to herald-processed, 0 left in INBOX"
    check(want in p.stdout, f"second fetch said {p.stdout!r}, expected {want!r}")
    check(site.status() == before, "a second fetch changed status --json")
    check(site.statuses() == statuses, "a second fetch changed a subscriber")

    # 3. publish reads the mailbox first: cara's three campaigns soft-bounced (the third makes
    # her bounced), and ann's DSN once more (read before). The new post goes to eve only.
    box.append(
        *[
            site.craft("dsn-soft.eml", c, "cara@example.com")
            for c in ("trait-objects", "soup-and-bread", "creme-brulee")
        ],
        site.craft("dsn-hard.eml", "creme-brulee", "ann@example.com"),
    )
    (root / "config" / "subscribers" / "cooking.csv").write_text(
        "email,name\ncara@example.com,Cara\ndan@example.com,Dan\neve@example.com,Eve\n"
    )
    (root / "content" / "posts" / "2025-06-10-more-soup.md").write_text(
        "---\ntitle: More Soup\ndate: 2025-06-10 08:00\ntags: [cooking, rust lang]\n---\n\nBarley.\n"
    )
    site.now = LATER
    p = site.run("publish", password=password)
    want = (
        "returned mail: 4 read: 3 soft bounces, 1 read before; 1 address now bounced; "
        "4 processed, 0 left in the mailbox"
    )
    check(want in p.stderr, f"publish said {p.stderr!r}, expected {want!r}")
    check(site.statuses().get("cara@example.com") == "bounced", "cara is not bounced")
    sent = sorted(f.name for f in (root / "outbox" / "more-soup").iterdir())
    check(sent == ["eve@example.com.eml"], f"the new post went to {sent}")
    processed = box.folder("herald-processed")
    check(processed is not None and len(processed) == 8, f"herald-processed: {processed and len(processed)}")
    check(len(box.folder("INBOX") or []) == 2, "the INBOX does not hold just the two left")

    # 4. processed: delete.
    site.config(site.read_config().replace("      timeout_secs: 20\n", "      timeout_secs: 20\n      processed: delete\n"))
    box.append(site.craft("vacation.eml", "creme-brulee", "dan@example.com"))
    p = site.run("bounces", "fetch", password=password)
    want = "bounces: 1 read: 1 ignored (auto-replies, delay warnings); 1 deleted, 0 left in INBOX"
    check(want in p.stdout, f"fetch with delete said {p.stdout!r}, expected {want!r}")
    check(len(box.folder("INBOX") or []) == 2, "the deleted message is still in the INBOX")
    check(len(box.folder("herald-processed") or []) == 8, "the deleted message was moved")

    # 5. A wrong password.
    wrong = "wrong-" + password[::-1]
    p = site.run("bounces", "fetch", password=wrong, expect=1)
    check("logging in as herald-test" in p.stderr, f"wrong password: {p.stderr!r}")
    check(wrong not in p.stdout + p.stderr, "the wrong password was printed")
    p = site.run("-q", "publish", password=wrong)
    check("warning: returned mail not read" in p.stderr, f"publish, wrong password: {p.stderr!r}")

    # 6. Each report counted once.
    b = site.status().get("bounces", {})
    got = [b.get(k) for k in ("hard", "soft", "complaints", "ignored", "unattributable")]
    check(got == [2, 3, 1, 2, 2], f"status --json bounces: {b}")
    lists = {l["id"]: (l["active"], l["bounced"], l["complained"]) for l in site.status().get("lists", [])}
    want = {"all": (0, 2, 0), "rust": (0, 2, 0), "cooking": (1, 1, 1)}
    check(lists == want, f"status --json lists: {lists}")


if __name__ == "__main__":
    main()
