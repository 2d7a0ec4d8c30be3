#!/usr/bin/env python3
"""herald's DKIM signatures checked by dkimpy, a verifier that shares no code with lettre's signer.

Usage: dkim_check.py SITE KEYGEN_OUTPUT ALGORITHM

SITE is a site that `herald publish` (or `preview`) wrote to its outbox with `newsletter.dkim`
set; KEYGEN_OUTPUT is the file holding what `herald dkim keygen` printed for that key; ALGORITHM
is `rsa` or `ed25519`. The DNS record is taken from keygen's output, as a user would paste it
(each quoted string at most 255 bytes, joined), and handed to dkimpy through its DNS hook
(`dnsfunc=`): nothing is looked up. Every `.eml` under SITE/outbox must carry exactly one
signature, relaxed/relaxed, over the headers herald promises, and verify; one changed byte in a
signed header, or in the body, must make it fail.
"""

import pathlib
import re
import sys

import dkim

SIGNED = [
    b"from", b"to", b"subject", b"date", b"message-id", b"list-id", b"list-unsubscribe",
    b"list-unsubscribe-post", b"mime-version", b"content-type",
]


def record_from(output: str):
    """(selector, domain, record text) from keygen's `S._domainkey.D  TXT  "…" "…"` line."""
    for line in output.splitlines():
        m = re.match(r'^(\S+)\._domainkey\.(\S+)\s+TXT\s+((?:"[^"]*"\s*)+)$', line)
        if m:
            strings = re.findall(r'"([^"]*)"', m.group(3))
            too_long = [s for s in strings if len(s.encode()) > 255]
            assert not too_long, f"TXT strings over 255 bytes: {too_long}"
            return m.group(1), m.group(2), "".join(strings)
    sys.exit(f"no `SELECTOR._domainkey.DOMAIN  TXT  \"...\"` line in keygen's output:\n{output}")


def split(raw: bytes):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no blank line after the headers"
    return head, body


def unfolded_headers(head: bytes):
    """(lower-case name, value) of each header, folding undone."""
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b" " + line.strip())
        else:
            name, _, value = line.partition(b":")
            out.append((name.strip().lower(), value.strip()))
    return out


def tags(value: bytes):
    return {
        k.strip(): v.strip()
        for k, _, v in (t.partition(b"=") for t in value.split(b";") if t.strip())
    }


def flip(raw: bytes, at: int) -> bytes:
    """`raw` with the letter at `at` replaced by another letter."""
    c = raw[at:at + 1]
    assert c.isalpha(), (at, c)
    other = b"x" if c.lower() != b"x" else b"y"
    return raw[:at] + other + raw[at + 1:]


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("rsa", "ed25519"):
        sys.exit(__doc__)
    site = pathlib.Path(sys.argv[1])
    algorithm = sys.argv[3]
    selector, domain, record = record_from(pathlib.Path(sys.argv[2]).read_text())
    assert f"k={algorithm};" in record, record
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        if name.rstrip(b".").lower() == f"{selector}._domainkey.{domain}".encode().lower():
            return record.encode()
        return None

    files = sorted((site / "outbox").rglob("*.eml"))
    assert files, f"no .eml files under {site / 'outbox'}"
    for f in files:
        raw = f.read_bytes()
        head, body = split(raw)
        sigs = [v for n, v in unfolded_headers(head) if n == b"dkim-signature"]
        assert len(sigs) == 1, f"{f}: {len(sigs)} DKIM-Signature headers"
        t = tags(sigs[0])
        assert t[b"a"] == f"{algorithm}-sha256".encode(), (f, t[b"a"])
        assert t[b"c"] == b"relaxed/relaxed", (f, t[b"c"])
        assert t[b"d"] == domain.encode() and t[b"s"] == selector.encode(), (f, t)
        signed = [h.strip().lower() for h in t[b"h"].split(b":")]
        missing = [h for h in SIGNED if h not in signed]
        assert not missing, f"{f}: h= lacks {missing}"

        assert dkim.verify(raw, dnsfunc=dnsfunc), f"{f}: dkimpy does not verify it"

        # One byte of the Subject's value.
        m = re.search(rb"\r\nSubject: *([A-Za-z])", raw)
        assert m, f"{f}: no Subject starting with a letter"
        assert not dkim.verify(flip(raw, m.start(1)), dnsfunc=dnsfunc), \
            f"{f}: still verifies with a Subject byte changed"
        # One byte of the text part's content (past its part headers).
        text = raw.index(b"Content-Type: text/plain", len(head))
        content = raw.index(b"\r\n\r\n", text) + 4
        letter = re.compile(rb"[A-Za-z]").search(raw, content).start()
        assert not dkim.verify(flip(raw, letter), dnsfunc=dnsfunc), \
            f"{f}: still verifies with a body byte changed"
    assert asked, "dkimpy asked for no key"
    print(f"dkimpy: {len(files)} messages verify ({algorithm}, s={selector}, d={domain}); "
          f"each fails with one header or body byte changed")


if __name__ == "__main__":
    main()
