#!/usr/bin/env python3
"""spam_check.py: the example site's mail scored by a real spam filter, SpamAssassin (Debian's
`spamassassin`, local rules only: no network tests, no Bayes, no auto-whitelist).

Usage:
  python3 .ci/spam_check.py HERALD

Copies the repository's example site to a temp dir, adds a weekly digest list beside its
lists, and makes the three kinds of mail herald sends to subscribers:

- post mail: `herald publish` at a time when a post is due (outbox/<slug>/*.eml);
- a digest: `herald publish` after the digest's slot (outbox/digest:weekly:*/*.eml);
- a confirmation: `herald serve` on a free loopback port, a sign-up POSTed to /subscribe
  (outbox/confirm/*.eml).

Each message goes through `spamassassin -L -t`. The check fails when SpamAssassin fires any rule
that reads the mail as hiding text (invisible, tiny or background-coloured text, a low
contrast font), as HTML without a text part (or a text part unlike the HTML), as having
malformed or missing headers, a bad Message-ID or date, or images without text. It prints every
message's score and rules. Exits 1 listing every problem, 2 on a set-up error.
"""
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Rules (by name or name pattern) that must never fire: hidden text, HTML-only or mismatched
# parts, malformed headers, image-heavy mail.
FORBIDDEN = [
    r"HTML_FONT_LOW_CONTRAST", r"HTML_FONT_SIZE_(TINY|HUGE)", r".*INVIS.*", r".*HIDDEN.*",
    r"HTML_TEXT_INVISIBLE.*", r"FONT_INVIS.*", r"T_HTML_FONT_.*",
    r"MIME_HTML_ONLY.*", r"HTML_MIME_NO_HTML_TAG", r"MPART_ALT_DIFF.*", r"MIME_HTML_MOSTLY",
    r"HTML_IMAGE_ONLY_.*", r"HTML_IMAGE_RATIO_0[0-4]", r"HTML_SHORT_LINK_IMG_.*",
    r"MISSING_(HEADERS|DATE|FROM|MID|SUBJECT|MIMEOLE)", r"INVALID_(DATE|MSGID)", r"MSGID_.*",
    r"DATE_IN_(PAST|FUTURE)_.*", r"HEADER_FROM_DIFFERENT_DOMAINS", r"FROM_ADDR_WS",
    r"MIME_BAD_.*", r"MIME_QP_LONG_LINE", r"MIME_BASE64_TEXT", r"BAD_ENC_HEADER",
    r"TO_NO_BRKTS_.*", r"FROM_EXCESS_BASE64", r"SUBJ_ILLEGAL_CHARS", r"NO_RELAYS",
    r"T_MIME_NO_TEXT", r"HTML_OBFUSCATE_.*", r"MIXED_ES", r"CTYPE_.*",
]
FORBIDDEN_RE = re.compile("^(" + "|".join(FORBIDDEN) + ")$")

NOW_POST = "2026-11-18T14:00:00Z"     # the example's "lead-magnets-that-convert" is due
NOW_DIGEST = "2026-11-23T14:00:00Z"   # after the Monday 08:00 slot of 23 November


class SetupError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(herald, site, now, *args):
    out = subprocess.run([herald, "--site", str(site), "--now", now, *args],
                         capture_output=True, text=True, timeout=300)
    if out.returncode not in (0, 75):
        raise SetupError(f"herald {' '.join(args)} exited {out.returncode}: {out.stderr}")
    return out


def rules_of(report):
    """The rule names in SpamAssassin's `-t` report ("Content analysis details")."""
    names = []
    for line in report.splitlines():
        m = re.match(r"^\s*-?\d+(\.\d+)?\s+([A-Z0-9_]+)\s", line)
        if m:
            names.append(m.group(2))
    return names


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    herald = str(Path(sys.argv[1]).resolve())
    if not shutil.which("spamassassin"):
        print("spam_check.py needs spamassassin (apt-get install spamassassin)", file=sys.stderr)
        return 2
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for d in ("config", "content", "templates"):
            shutil.copytree(REPO / d, site / d)
        config = site / "config" / "herald.yaml"
        text = config.read_text()
        port = free_port()
        text = text.replace("  lists:\n", "  lists:\n"
                            "    - id: weekly\n"
                            "      name: The week at LeadCraftr\n"
                            "      tags: [\"*\"]\n"
                            "      subscribers: config/subscribers/all.csv\n"
                            "      digest: { every: week, weekday: mon, at: \"08:00\" }\n", 1)
        text += f"\nserve:\n  listen: 127.0.0.1:{port}\n  public_url: https://leadcraftr.com/herald/\n"
        config.write_text(text)

        run(herald, site, NOW_POST, "publish")
        run(herald, site, NOW_DIGEST, "publish")
        serve = subprocess.Popen([herald, "--site", str(site), "--now", NOW_DIGEST, "serve"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    if time.time() > deadline or serve.poll() is not None:
                        raise SetupError("herald serve did not start")
                    time.sleep(0.2)
            body = urllib.parse.urlencode({"email": "reader@example.org", "name": "Rea Der",
                                           "list": "all"}).encode()
            urllib.request.urlopen(f"http://127.0.0.1:{port}/subscribe", data=body, timeout=10)
        finally:
            serve.terminate()
            serve.wait(timeout=30)

        outbox = site / "outbox"
        kinds = {
            "post mail": sorted(outbox.glob("lead-magnets-that-convert/*.eml"))[:1],
            "digest": sorted(outbox.glob("digest:weekly:*/*.eml"))[:1],
            "confirmation": sorted(outbox.glob("confirm/*.eml"))[:1],
        }
        for kind, files in kinds.items():
            if not files:
                problems.append(f"{kind}: herald wrote no such mail in {outbox}")
                continue
            raw = files[0].read_bytes()
            date = re.search(rb"^Date: (.+?)\r?$", raw, re.M)
            if not date:
                problems.append(f"{kind}: no Date header")
                continue
            # The headers a receiving MTA adds, stamped when the mail was sent: a Received line
            # from the sender's relay and the Return-Path.
            raw = (b"Return-Path: <newsletter@leadcraftr.com>\r\n"
                   b"Received: from mail.leadcraftr.com (mail.leadcraftr.com [93.184.215.14])\r\n"
                   b"\tby mx.example.org with ESMTPS id 4Xq; " + date.group(1) + b"\r\n"
                   + raw)
            sa = subprocess.run(["spamassassin", "-L", "-t", "--cf=use_bayes 0",
                                 "--cf=use_auto_whitelist 0"],
                                input=raw, capture_output=True, timeout=120)
            report = sa.stdout.decode("utf-8", "replace")
            score = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.M)
            rules = rules_of(report.split("Content analysis details:", 1)[-1])
            print(f"{kind} ({files[0].parent.name}/{files[0].name}): score "
                  f"{score.group(1) if score else '?'}, rules {', '.join(rules) or 'none'}")
            bad = [r for r in rules if FORBIDDEN_RE.match(r)]
            if bad:
                problems.append(f"{kind}: SpamAssassin fired {', '.join(bad)}")
            if not score:
                problems.append(f"{kind}: no X-Spam-Status in SpamAssassin's output: {sa.stderr[:500]!r}")
    for p in problems:
        print(f"spam_check: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as e:
        print(f"spam_check: {e}", file=sys.stderr)
        sys.exit(2)
