#!/usr/bin/env python3
"""`herald doctor --dns` against a loopback DNS server written with dnslib, independent of the
Rust tests' own responder.

Usage: doctor_check.py HERALD

Copies the example site to a temp dir, makes it a signing sender (`herald dkim keygen`, the
config lines it prints, `transport: smtp` to a loopback relay, a public https
`serve.public_url`), then serves a zone that suits it on 127.0.0.1 and runs
`HERALD doctor --dns 127.0.0.1:PORT`: the good zone must give exit 0 and no error; each broken
zone (no SPF, SPF without the relay, another DKIM key, no DKIM record, no DMARC, no MX) must give
exit 1 and an `error` line for that record, and only that one.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from dnslib import A, MX, QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

DOMAIN = "leadcraftr.com"
SELECTOR = "ci"


class Zone(BaseResolver):
    """Answers from `self.records`, a list of (name, type, rdata); NXDOMAIN for other names."""

    def __init__(self):
        self.records = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        known = False
        for name, rtype, rdata in self.records:
            if name == qname:
                known = True
                if rtype == qtype:
                    reply.add_answer(RR(request.q.qname, getattr(QTYPE, rtype), rdata=rdata, ttl=60))
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def txt(text):
    """A TXT record of `text`, cut into 255-byte strings."""
    data = text.encode()
    return TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])


def keygen(herald, site, selector):
    """A new key for `selector`; the record keygen printed, its strings joined."""
    out = run(herald, site, "dkim", "keygen", "--selector", selector)
    assert out.returncode == 0, out.stderr
    m = re.search(r'^%s\._domainkey\.%s\s+TXT\s+((?:"[^"]*"\s*)+)$' % (selector, re.escape(DOMAIN)),
                  out.stdout, re.M)
    assert m, out.stdout
    return "".join(re.findall(r'"([^"]*)"', m.group(1)))


def run(herald, site, *args):
    return subprocess.run([herald, "--site", str(site), *args], capture_output=True, text=True)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    herald = sys.argv[1]
    repo = pathlib.Path(__file__).resolve().parent.parent
    work = pathlib.Path(tempfile.mkdtemp())
    try:
        site = work / "site"
        for d in ("config", "content", "templates"):
            if (repo / d).is_dir():
                shutil.copytree(repo / d, site / d)
        record = keygen(herald, site, SELECTOR)
        other_record = keygen(herald, site, "other")
        assert record.startswith("v=DKIM1; k=rsa; p=") and other_record != record

        config = site / "config" / "herald.yaml"
        text = config.read_text()
        text = text.replace("  transport: outbox\n", "  transport: smtp\n"
                            f"  dkim:\n    domain: {DOMAIN}\n    selector: {SELECTOR}\n"
                            f"    private_key_file: state/dkim/{SELECTOR}.pem\n", 1)
        text += ("\nsmtp:\n  host: 127.0.0.1\n  port: 2525\n  security: none\n"
                 "serve:\n  public_url: https://leadcraftr.com/herald/\n")
        config.write_text(text)

        good = [
            (DOMAIN, "MX", MX("mx." + DOMAIN, 10)),
            ("mx." + DOMAIN, "A", A("192.0.2.25")),
            (DOMAIN, "TXT", txt("v=spf1 mx ip4:127.0.0.1 -all")),
            (DOMAIN, "TXT", txt("some-site-verification=1")),
            (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", txt(record)),
            (f"_dmarc.{DOMAIN}", "TXT", txt("v=DMARC1; p=none; rua=mailto:dmarc@leadcraftr.com")),
        ]

        def without(name, rtype, add=None):
            """The good zone less its `rtype` records at `name` (of the From domain's TXT
            records, the SPF one only), plus `add`."""
            zone = [r for r in good if not (r[0] == name and r[1] == rtype
                                            and (rtype != "TXT" or name != DOMAIN
                                                 or str(r[2]).startswith('"v=spf1')))]
            return zone + ([(name, rtype, add)] if add else [])

        dkim_name = f"{SELECTOR}._domainkey.{DOMAIN}"
        cases = [
            ("good zone", good, None, None),
            ("missing SPF", without(DOMAIN, "TXT"), "spf", "has no SPF record"),
            ("SPF without the relay", without(DOMAIN, "TXT", txt("v=spf1 mx ip4:192.0.2.0/24 -all")),
             "spf", "does not permit the relay 127.0.0.1"),
            ("DKIM key mismatch", without(dkim_name, "TXT", txt(other_record)), "dkim",
             "does not match the configured key"),
            ("no DKIM record", without(dkim_name, "TXT"), "dkim", "no DKIM record"),
            ("no DMARC", without(f"_dmarc.{DOMAIN}", "TXT"), "dmarc", "no DMARC record"),
            ("no MX", without(DOMAIN, "MX"), "mx", "has no MX record"),
        ]

        zone = Zone()
        server = DNSServer(zone, address="127.0.0.1", port=0,
                           logger=DNSLogger(log="-request,-reply,-truncated,-data", prefix=False))
        server.start_thread()
        port = server.server.server_address[1]
        try:
            for name, records, topic, says in cases:
                zone.records = [(n.lower(), t, r) for n, t, r in records]
                result = run(herald, site, "doctor", "--dns", f"127.0.0.1:{port}")
                report = f"{name}: exit {result.returncode}\n{result.stdout}{result.stderr}"
                errors = [l for l in result.stdout.splitlines() if l.startswith("error")]
                if topic is None:
                    assert result.returncode == 0 and not errors, report
                    for t in ("mx", "spf", "dkim", "dmarc", "tls", "url"):
                        assert re.search(rf"^ok\s+{t}\s", result.stdout, re.M), report
                    continue
                assert result.returncode == 1, report
                assert len(errors) == 1, report
                assert re.match(rf"^error\s+{topic}\s", errors[0]) and says in errors[0], report
                assert "; fix: " in errors[0], report
        finally:
            server.stop()
        print(f"doctor: {len(cases)} zones on a dnslib server, each broken record found "
              f"(exit 1), the good zone clean (exit 0)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
