#!/usr/bin/env python3
"""smtp_check.py: send the example site's newsletter through a real SMTP server (aiosmtpd) and
read every message back the way a mail client does (Python's `email`, policy=default).

Usage:
  python3 .ci/smtp_check.py [--now 2027-07-01T00:00:00Z] HERALD

HERALD is the herald binary (`target/release/herald`). The script starts aiosmtpd on a free
port of 127.0.0.1 with a handler that stores every message, copies the repository's example
site (config/, content/, templates/) to a temp dir, points its config at the server
(`transport: smtp`, `security: none`, which herald allows on loopback only), and runs
`herald --site TMP --now NOW publish`, then `publish` again.

The expectations come from the site itself, independently of herald's code (README
"Subscribers and lists"): config/herald.yaml and the posts' front matter read with PyYAML, and each list's
subscriber CSV read with the csv module. A post is mailed when it is not a draft, due at NOW and
dated on or after newsletter.start; a list takes it when the list has "*" or shares a tag slug;
its recipients are the union of those lists' CSV addresses, each exactly once. Every received
message is then checked:

- the envelope: sender newsletter.from.email, one recipient;
- multipart/alternative with exactly a text/plain and a text/html part (UTF-8), no MIME defects;
- From, Reply-To, To (address and the CSV name), Subject (the exact title; ASCII on the wire,
  RFC 2047 where needed), Date (= NOW), Message-ID (unique), List-Id (the first matching list
  the address is on), List-Unsubscribe `<{serve.public_url}unsubscribe?token=...>`,
  List-Unsubscribe-Post: List-Unsubscribe=One-Click, and no Bcc;
- both parts link to the post's permalink and to the unsubscribe URL; the HTML has inlined CSS
  (style attributes), only absolute links and images, and no <script>.

The second publish must exit 0 and send nothing. Exits 1 listing every problem, 2 on a usage
or set-up error. Needs: pip install aiosmtpd pyyaml.
"""
import argparse
import asyncio
import csv
import email
import email.policy
import html.parser
import io
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

try:
    from aiosmtpd.smtp import SMTP
    from herald_site import SiteError, load_yaml, one_line, parse_date, read_posts, slugify
except ImportError as e:
    print(f"smtp_check.py needs aiosmtpd and pyyaml: pip install aiosmtpd pyyaml ({e})",
          file=sys.stderr)
    sys.exit(2)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_NOW = "2027-07-01T00:00:00Z"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080/"
RUN_TIMEOUT = 300


SetupError = SiteError


# --- the site's own data ---------------------------------------------------------------------

def read_csv(path):
    """{address (lower case): name} of a subscriber CSV's valid rows."""
    out = {}
    text = path.read_text(encoding="utf-8-sig")
    for row in csv.DictReader(io.StringIO(text)):
        addr = (row.get("email") or "").strip()
        if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", addr):
            out.setdefault(addr.lower(), one_line(row.get("name") or ""))
    return out


class Site:
    def __init__(self, root, now):
        self.root = root
        cfg = load_yaml((root / "config/herald.yaml").read_text(encoding="utf-8"))
        self.config = cfg
        site = cfg["site"]
        self.tz = ZoneInfo(site.get("timezone", "UTC"))
        self.base_url = site["base_url"]
        self.host = re.sub(r"^[a-z]+://", "", self.base_url).split("/")[0].split(":")[0]
        self.permalink = site.get("permalink", "/posts/{slug}/")
        n = cfg.get("newsletter")
        if not n:
            raise SetupError("the example site has no newsletter: section")
        if n.get("subject", "{{post.title}}") != "{{post.title}}":
            raise SetupError("only the default subject `{{post.title}}` is supported here")
        self.start = parse_date(n["start"], self.tz)
        self.from_name = n["from"].get("name", "")
        self.from_email = n["from"]["email"]
        self.reply_to = n.get("reply_to")
        self.public_url = (cfg.get("serve") or {}).get("public_url", DEFAULT_PUBLIC_URL)
        if not self.public_url.endswith("/"):
            self.public_url += "/"
        self.lists = []
        for lst in n["lists"]:
            tags = lst.get("tags") or []
            members = read_csv(root / lst["subscribers"]) if lst.get("subscribers") else {}
            self.lists.append({
                "id": lst["id"],
                "all": "*" in tags,
                "tags": {slugify(t) for t in tags if t != "*"},
                "members": members,
            })
        self.posts = {}
        content = root / cfg.get("content_dir", "content/posts")
        for post in read_posts(root, content, self.tz):
            if post["draft"] or post["date"] > now or post["date"] < self.start:
                continue
            slug = post["slug"]
            self.posts[slug] = {
                "title": post["title"],
                "tags": set(post["tags"]),
                "url": urljoin(self.base_url, self.permalink.replace("{slug}", slug)),
            }

    def matching(self, slug):
        post = self.posts[slug]
        return [lst for lst in self.lists if lst["all"] or lst["tags"] & post["tags"]]

    def expected(self):
        """{(slug, address)} that must be mailed."""
        out = set()
        for slug in self.posts:
            for lst in self.matching(slug):
                out.update((slug, addr) for addr in lst["members"])
        return out

    def names(self, addr):
        return {lst["members"][addr] for lst in self.lists if addr in lst["members"]}


# --- the SMTP server -------------------------------------------------------------------------

class Store:
    """aiosmtpd handler: keeps every message with its envelope."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(raw)))
        return "250 2.0.0 OK: stored"

    def snapshot(self):
        with self.lock:
            return list(self.messages)


class Server:
    """aiosmtpd on 127.0.0.1, on a port the OS picks, in a thread of its own."""

    def __init__(self):
        self.store = Store()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def serve():
            return await self.loop.create_server(
                lambda: SMTP(self.store, hostname="smtp-check.test", enable_SMTPUTF8=True),
                host="127.0.0.1", port=0)

        self.server = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def point_at(root, port):
    """Switches the copied site's config to `transport: smtp` through the test server."""
    path = root / "config/herald.yaml"
    text = path.read_text(encoding="utf-8")
    # Drop an existing top-level smtp: section, then set the transport.
    text = re.sub(r"(?ms)^smtp:.*?(?=^\S|\Z)", "", text)
    text, count = re.subn(r"(?m)^(\s+)transport:.*$", r"\1transport: smtp", text)
    if count == 0:
        text = re.sub(r"(?m)^newsletter:\s*$", "newsletter:\n  transport: smtp", text, count=1)
    text += (f"\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
             f"  concurrency: 2\n  timeout_secs: 10\n")
    path.write_text(text, encoding="utf-8")


# --- checking one message ----------------------------------------------------------------------

class Links(html.parser.HTMLParser):
    """Every href and src of an HTML document, unescaped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)


def check_message(site, now, mail_from, rcpts, raw, seen_ids, problems):
    """Returns (slug, address) of the message, or None; appends every problem found."""
    where = f"message to {', '.join(rcpts)}"

    def bad(msg):
        problems.append(f"{where}: {msg}")

    if mail_from != site.from_email:
        bad(f"envelope sender {mail_from!r}, expected {site.from_email!r}")
    if len(rcpts) != 1:
        bad(f"{len(rcpts)} envelope recipients, expected 1")
        return None
    rcpt = rcpts[0].lower()

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = raw.split(b"\r\n\r\n", 1)[0]
    if msg.defects:
        bad(f"MIME defects: {msg.defects}")
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        bad("non-ASCII bytes in the header block (RFC 2047 expected)")
    for line in head.split(b"\r\n"):
        if len(line) > 998:
            bad("a header line longer than 998 characters")
        if line.lower().startswith(b"bcc"):
            bad(f"a Bcc header: {line!r}")

    subject = str(msg.get("Subject", ""))
    slug = next((s for s, p in site.posts.items() if p["title"] == subject), None)
    if slug is None:
        bad(f"Subject {subject!r} is the title of no mailable post")
        return None
    where = f"{slug} -> {rcpt}"
    post = site.posts[slug]
    if not subject.isascii() and b"=?utf-8?" not in head.lower():
        bad("a non-ASCII Subject without RFC 2047 encoding")

    if msg.get_content_type() != "multipart/alternative":
        bad(f"Content-Type {msg.get_content_type()}, expected multipart/alternative")
        return slug, rcpt
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    if types != ["text/plain", "text/html"]:
        bad(f"parts {types}, expected ['text/plain', 'text/html']")
        return slug, rcpt
    for p in parts:
        if p.defects:
            bad(f"{p.get_content_type()} part defects: {p.defects}")
        if (p.get_content_charset() or "").lower() != "utf-8":
            bad(f"{p.get_content_type()} charset {p.get_content_charset()!r}, expected utf-8")
    text, body = parts[0].get_content(), parts[1].get_content()

    frm = msg["From"].addresses if msg["From"] else ()
    if len(frm) != 1 or frm[0].addr_spec != site.from_email or frm[0].display_name != site.from_name:
        bad(f"From {msg['From']!r}, expected {site.from_name} <{site.from_email}>")
    if site.reply_to:
        rt = msg["Reply-To"].addresses if msg["Reply-To"] else ()
        if [a.addr_spec for a in rt] != [site.reply_to]:
            bad(f"Reply-To {msg['Reply-To']!r}, expected {site.reply_to}")
    to = msg["To"].addresses if msg["To"] else ()
    if len(to) != 1 or to[0].addr_spec.lower() != rcpt:
        bad(f"To {msg['To']!r} does not match the envelope recipient")
    else:
        # The name from the CSVs, when they give one; none when they don't.
        names = site.names(rcpt) - {""}
        if to[0].display_name not in (names or {""}):
            bad(f"To name {to[0].display_name!r}, expected one of {names or {''}}")
    if len(msg.get_all("To", [])) != 1:
        bad("more than one To header")

    date = msg["Date"].datetime if msg["Date"] else None
    if date is None or date != now:
        bad(f"Date {msg['Date']!r}, expected {now.isoformat()} (--now)")
    mid = str(msg.get("Message-ID", ""))
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid):
        bad(f"Message-ID {mid!r} is not <id@domain>")
    elif mid in seen_ids:
        bad(f"Message-ID {mid} used twice")
    seen_ids.add(mid)

    first = next((lst for lst in site.matching(slug) if rcpt in lst["members"]), None)
    list_id = str(msg.get("List-Id", ""))
    if first is None or not list_id.endswith(f"<{first['id']}.{site.host}>"):
        want = first and f"<{first['id']}.{site.host}>"
        bad(f"List-Id {list_id!r}, expected one ending in {want}")
    unsub = str(msg.get("List-Unsubscribe", ""))
    m = re.fullmatch(re.escape(f"<{site.public_url}unsubscribe?token=") + r"([A-Za-z0-9_\-.]+)>",
                     unsub)
    if not m:
        bad(f"List-Unsubscribe {unsub!r}, expected <{site.public_url}unsubscribe?token=...>")
        unsub_url = None
    else:
        unsub_url = unsub[1:-1]
    if str(msg.get("List-Unsubscribe-Post", "")) != "List-Unsubscribe=One-Click":
        bad(f"List-Unsubscribe-Post {msg.get('List-Unsubscribe-Post')!r}")

    links = Links()
    links.feed(body)
    for url in links.links:
        if not re.match(r"(https?:|mailto:)", url):
            bad(f"a relative link or image in the HTML part: {url!r}")
    if post["url"] not in links.links or post["url"] not in text:
        bad(f"the permalink {post['url']} is missing from a part")
    if unsub_url and (unsub_url not in links.links or unsub_url not in text):
        bad("the unsubscribe URL is missing from a part")
    if "script" in links.tags or "<script" in text.lower():
        bad("a <script> reached the mail")
    if 'style="' not in body:
        bad("no inlined CSS (style attributes) in the HTML part")
    return slug, rcpt


# --- main --------------------------------------------------------------------------------------

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("herald", help="the herald binary, e.g. target/release/herald")
    ap.add_argument("--now", default=DEFAULT_NOW, help=f"the --now to use (default {DEFAULT_NOW})")
    args = ap.parse_args()
    herald = Path(args.herald).resolve()
    if not herald.is_file():
        print(f"smtp_check.py: {args.herald}: no such binary (cargo build --release?)",
              file=sys.stderr)
        return 2
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(timezone.utc)

    tmp = Path(tempfile.mkdtemp(prefix="herald-smtp-check-"))
    server = None
    try:
        root = tmp / "site"
        root.mkdir()
        for d in ("config", "content", "templates"):
            if (REPO / d).is_dir():
                shutil.copytree(REPO / d, root / d)
        site = Site(root, now)
        expected = site.expected()
        if not expected:
            raise SetupError(f"nothing to mail at {args.now}: pick another --now")

        server = Server()
        point_at(root, server.port)
        base = [str(herald), "--site", str(root), "--now", args.now]
        first = run(base + ["publish"])
        if first.returncode != 0:
            print(f"smtp_check.py: herald publish exited {first.returncode}\n"
                  f"{first.stdout}{first.stderr}", file=sys.stderr)
            return 1
        received = server.store.snapshot()

        problems, seen_ids, got = [], set(), []
        for mail_from, rcpts, raw in received:
            key = check_message(site, now, mail_from, rcpts, raw, seen_ids, problems)
            if key:
                got.append(key)
        for key in sorted({k for k in got if got.count(k) > 1}):
            problems.append(f"{key[0]} -> {key[1]}: received {got.count(key)} times")
        for key in sorted(expected - set(got)):
            problems.append(f"{key[0]} -> {key[1]}: expected, never received")
        for key in sorted(set(got) - expected):
            problems.append(f"{key[0]} -> {key[1]}: received, but not expected")

        second = run(base + ["publish"])
        if second.returncode != 0:
            problems.append(f"the second publish exited {second.returncode}: {second.stderr}")
        extra = len(server.store.snapshot()) - len(received)
        if extra:
            problems.append(f"the second publish sent {extra} messages again")

        if problems:
            print(f"smtp_check.py: {len(problems)} problems in {len(received)} messages:",
                  file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        posts = sorted({slug for slug, _ in got})
        print(f"smtp_check.py: {len(received)} messages through aiosmtpd on port {server.port}, "
              f"{len(posts)} posts ({', '.join(posts)}) to {len({a for _, a in got})} addresses: "
              f"all as expected")
        return 0
    except SetupError as e:
        print(f"smtp_check.py: {e}", file=sys.stderr)
        return 2
    finally:
        if server:
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
