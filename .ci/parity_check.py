#!/usr/bin/env python3
"""parity_check.py: the Python half of .ci/parity.sh, which checks that herald, reading a Hugo,
Jekyll, Zola or Eleventy blog unchanged (`herald init --from DIR`), puts into its feeds exactly
the post pages that the real generator publishes.

Usage:
  parity_check.py urls GEN BUILT [--tags]
      BUILT is a copy of tests/fixtures/GEN that the generator GEN (hugo, jekyll, eleventy) has
      built. Prints, sorted, one absolute URL per line: every written HTML file that carries the
      post marker <meta name="herald-post" content="1">, or with --tags every tag page
      (tags/<slug>/index.html). The base URL and the output folder come from the site's own
      config: Hugo's baseURL (with its path: Hugo writes public/ without it), Jekyll's
      url + baseurl (Jekyll writes _site/ without baseurl), Eleventy's _data/metadata.js url.
      `x/index.html` becomes BASE/x/, `x.html` becomes BASE/x.html; paths are percent-encoded.
  parity_check.py prepare SITE
      Finds the herald.yaml that `herald init --from SITE` wrote, sets feeds.limit: 0 (all
      posts in every feed) and prints the config file's path.
  parity_check.py compare GEN SITE --expected FILE [--tag-pages FILE] [--built BUILT]
      Reads every <item><link> of SITE's rss.xml (in the config's output_dir) and checks that
      the set equals the URLs in FILE, with no duplicate; that every link is a plain URI; that
      no item title, description or content in any feed (rss.xml, atom.xml, feed.json, and each
      tags/<slug>/ set) holds template syntax ({{<, {{%, {%, %}, "{{ "): with --built, a token
      is allowed only as often as the generator's own page for that item shows it as text
      (an escaped Hugo shortcode, a Jekyll {% raw %} block); and, with --tag-pages, that every
      tags/<slug>/ folder herald wrote has a tag page among the URLs in that file.
      Prints "parity GEN: N posts, M items, equal" or every difference; exits 1 on any.

Needs PyYAML. Exits 2 on a usage error or a site that cannot be read.
"""
import argparse
import html
import json
import os
import re
import sys
import tomllib
import unicodedata
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote, urlsplit, urlunsplit

try:
    import yaml
except ImportError:
    print("parity_check.py needs PyYAML: pip install pyyaml", file=sys.stderr)
    sys.exit(2)

MARKER = re.compile(r'<meta\s+name="herald-post"\s+content="1"\s*/?>')
CANONICAL = re.compile(r'<link\s+rel="canonical"\s+href="([^"]*)"')
TEMPLATE_TOKENS = ["{{<", "{{%", "{%", "%}", "{{ "]
MAX_LEAKS = 12
NS = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
}
# Characters kept as they are in a URL path; everything else is percent-encoded (UTF-8).
PATH_SAFE = "/:@!$&'()*+,;=~-._"


class Unreadable(Exception):
    """The site or a feed cannot be read at all (exit 2)."""


# --- the generators' side -------------------------------------------------------------------

def read_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def read_yaml(path):
    with open(path, encoding="utf-8-sig") as f:
        return yaml.safe_load(f) or {}


def hugo_site(root):
    for name in ("hugo.toml", "config.toml"):
        if os.path.exists(os.path.join(root, name)):
            conf = read_toml(os.path.join(root, name))
            break
    else:
        raise Unreadable(f"{root}: no hugo.toml")
    base = conf.get("baseURL") or conf.get("baseurl")
    if not base:
        raise Unreadable(f"{root}: hugo.toml has no baseURL")
    return base, os.path.join(root, conf.get("publishDir", "public"))


def jekyll_site(root):
    conf = read_yaml(os.path.join(root, "_config.yml"))
    url = (conf.get("url") or "").rstrip("/")
    baseurl = (conf.get("baseurl") or "").strip("/")
    if not url:
        raise Unreadable(f"{root}: _config.yml has no url")
    base = f"{url}/{baseurl}/" if baseurl else f"{url}/"
    return base, os.path.join(root, conf.get("destination", "_site"))


def eleventy_site(root):
    path = os.path.join(root, "_data", "metadata.js")
    with open(path, encoding="utf-8") as f:
        m = re.search(r'\burl\s*:\s*["\']([^"\']+)["\']', f.read())
    if not m:
        raise Unreadable(f"{path}: no url")
    return m.group(1), os.path.join(root, "_site")


SITES = {"hugo": hugo_site, "jekyll": jekyll_site, "eleventy": eleventy_site}


def join_url(base, rel):
    """The absolute URL of the file `rel` (a path relative to the output folder, `/`
    separated) on a site served at `base`."""
    if rel == "index.html":
        rel = ""
    elif rel.endswith("/index.html"):
        rel = rel[: -len("index.html")]
    return base.rstrip("/") + "/" + quote(rel, safe=PATH_SAFE)


def html_files(out):
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".html") or name.endswith(".htm"):
                full = os.path.join(dirpath, name)
                yield full, os.path.relpath(full, out).replace(os.sep, "/")


def post_pages(gen, built):
    """{absolute URL: HTML file} for every page carrying the post marker. Where the page also
    names its own canonical URL (the fixtures' layouts print one), the two must agree: that
    checks this script's idea of the output layout against the generator's own."""
    base, out = SITES[gen](built)
    if not os.path.isdir(out):
        raise Unreadable(f"{out}: the generator wrote no output folder")
    pages, problems = {}, []
    for full, rel in html_files(out):
        with open(full, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if not MARKER.search(text):
            continue
        url = join_url(base, rel)
        canonical = CANONICAL.search(text)
        if canonical and norm_url(html.unescape(canonical.group(1))) != norm_url(url):
            problems.append(f"{rel}: written at {url} but its canonical link says "
                            f"{canonical.group(1)}")
        pages[url] = full
    return pages, problems


def tag_pages(gen, built):
    base, out = SITES[gen](built)
    tags = os.path.join(out, "tags")
    if not os.path.isdir(tags):
        return []
    return sorted(join_url(base, f"tags/{d}/") for d in os.listdir(tags)
                  if os.path.isfile(os.path.join(tags, d, "index.html")))


# --- herald's side --------------------------------------------------------------------------

class Yaml12Loader(yaml.SafeLoader):
    """Dates stay strings, as herald reads them, so a load/dump round trip changes nothing
    but the key it sets."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def herald_config(site):
    for rel in ("herald.yaml", os.path.join("config", "herald.yaml")):
        path = os.path.join(site, rel)
        if os.path.exists(path):
            return path
    raise Unreadable(f"{site}: `herald init --from` wrote no herald.yaml (nor config/herald.yaml)")


def prepare(site):
    path = herald_config(site)
    with open(path, encoding="utf-8-sig") as f:
        conf = yaml.load(f, Loader=Yaml12Loader) or {}
    feeds = conf.get("feeds")
    if not isinstance(feeds, dict):
        feeds = conf["feeds"] = {}
    feeds["limit"] = 0
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(conf, f, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return path


def output_dir(site):
    path = herald_config(site)
    with open(path, encoding="utf-8-sig") as f:
        conf = yaml.load(f, Loader=Yaml12Loader) or {}
    return os.path.normpath(os.path.join(site, conf.get("output_dir") or "public"))


def norm_url(url):
    """One spelling per URL: the path percent-decoded, NFC, re-encoded the same way the
    generator side encodes it; the host lower case."""
    parts = urlsplit(url.strip())
    path = quote(unicodedata.normalize("NFC", unquote(parts.path)), safe=PATH_SAFE)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def plain_uri(url):
    return all(33 <= ord(c) < 127 for c in url)


def as_text(s):
    """What a reader sees of an HTML fragment (or plain text): tags dropped, entities decoded,
    whitespace collapsed. Tags go first, so an escaped `{{&lt;` stays `{{<`."""
    s = re.sub(r"<!--.*?-->", " ", s or "", flags=re.S)
    s = re.sub(r"</?[A-Za-z][^>]*>|<[!?][^>]*>", " ", s)
    return " ".join(html.unescape(s).split())


def read_xml(path):
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise Unreadable(f"{path}: not well-formed XML: {e}") from e


def text_of(el):
    """All the text inside an element (an Atom type="xhtml" content is child elements)."""
    return "" if el is None else "".join(el.itertext())


def rss_items(path):
    """[(link, {field: text})] of an RSS 2.0 file."""
    items = []
    for item in read_xml(path).iter("item"):
        fields = {
            "title": text_of(item.find("title")),
            "description": text_of(item.find("description")),
            "content": text_of(item.find("content:encoded", NS)),
        }
        items.append(((item.findtext("link") or "").strip(), fields))
    return items


def atom_items(path):
    items = []
    for entry in read_xml(path).iter(f"{{{NS['atom']}}}entry"):
        link = ""
        for el in entry.findall("atom:link", NS):
            if el.get("rel", "alternate") == "alternate":
                link = el.get("href", "")
        fields = {name: text_of(entry.find(f"atom:{name}", NS))
                  for name in ("title", "summary", "content")}
        items.append((link.strip(), fields))
    return items


def json_items(path):
    try:
        with open(path, encoding="utf-8") as f:
            feed = json.load(f)
    except ValueError as e:
        raise Unreadable(f"{path}: not JSON: {e}") from e
    items = []
    for item in feed.get("items") or []:
        fields = {name: str(item.get(name) or "")
                  for name in ("title", "summary", "content_html", "content_text")}
        items.append((str(item.get("url") or "").strip(), fields))
    return items


READERS = {"rss.xml": rss_items, "atom.xml": atom_items, "feed.json": json_items}


def feed_sets(out):
    """[(folder relative to out, '' for the site feeds)] that hold at least one feed file."""
    folders = [""] if any(os.path.exists(os.path.join(out, n)) for n in READERS) else []
    tags = os.path.join(out, "tags")
    if os.path.isdir(tags):
        folders += [f"tags/{d}" for d in sorted(os.listdir(tags))
                    if os.path.isdir(os.path.join(tags, d))]
    return folders


def page_text(pages, link, cache):
    file = pages.get(norm_url(link))
    if file is None:
        return None
    if file not in cache:
        with open(file, encoding="utf-8", errors="replace") as f:
            cache[file] = as_text(f.read())
    return cache[file]


def template_leaks(out, pages):
    """Template syntax in any item field of any feed that the generator's page for that item
    does not show as text itself: one line per item, naming the tokens, fields and files."""
    leaks, cache = {}, {}
    for folder in feed_sets(out):
        for name, read in READERS.items():
            path = os.path.join(out, folder, name)
            if not os.path.exists(path):
                continue
            for link, fields in read(path):
                page = page_text(pages, link, cache) if pages is not None else None
                for field, value in fields.items():
                    text = as_text(value)
                    for token in TEMPLATE_TOKENS:
                        allowed = page.count(token) if page is not None else 0
                        if text.count(token) <= allowed:
                            continue
                        leak = leaks.setdefault(link or "(no link)", {
                            "tokens": [], "fields": [], "files": [], "snippet": None,
                            "allowed": {}})
                        for key, val in (("tokens", token), ("fields", field),
                                         ("files", os.path.join(folder, name))):
                            if val not in leak[key]:
                                leak[key].append(val)
                        leak["allowed"][token] = allowed
                        if leak["snippet"] is None:
                            i = text.find(token)
                            leak["snippet"] = f"{field}: ...{text[max(0, i - 40): i + 60]}..."
    problems = []
    for n, (link, leak) in enumerate(sorted(leaks.items())):
        if n == MAX_LEAKS:
            problems.append(f"... and {len(leaks) - n} more item(s) with template syntax")
            break
        files = leak["files"][:3] + ([f"{len(leak['files']) - 3} more"]
                                     if len(leak["files"]) > 3 else [])
        shown = ", ".join(f"{t!r}" + (f" (more than the page's {leak['allowed'][t]})"
                                      if leak["allowed"][t] else "")
                          for t in leak["tokens"])
        problems.append(f"item {link}: template syntax {shown} in its "
                        f"{'/'.join(leak['fields'])} in {', '.join(files)}")
        problems.append(f"    {leak['snippet']}")
    return problems


def read_url_file(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def compare(gen, site, expected_file, tag_pages_file, built):
    problems = []
    expected = read_url_file(expected_file)
    out = output_dir(site)
    rss = os.path.join(out, "rss.xml")
    if not os.path.exists(rss):
        raise Unreadable(f"{rss}: herald wrote no rss.xml (output_dir {out})")
    links = [link for link, _ in rss_items(rss)]

    for link in links:
        if not plain_uri(link):
            problems.append(f"rss.xml: link {link!r} is not a plain URI (spaces or non-ASCII "
                            "characters must be percent-encoded)")
    seen = {}
    for link in links:
        seen[norm_url(link)] = seen.get(norm_url(link), 0) + 1
    for link, n in sorted(seen.items()):
        if n > 1:
            problems.append(f"rss.xml: {link} is {n} items")

    want = {norm_url(u): u for u in expected}
    got = {norm_url(u): u for u in links}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append(f"{len(missing)} post(s) the generator publishes but rss.xml lacks:")
        problems += [f"  - {want[u]}" for u in missing]
    if extra:
        problems.append(f"{len(extra)} rss.xml item(s) that are no post page of the generator:")
        problems += [f"  + {got[u]}" for u in extra]

    pages = None
    if built:
        found, _ = post_pages(gen, built)
        pages = {norm_url(u): f for u, f in found.items()}
    problems += template_leaks(out, pages)

    if tag_pages_file:
        tag_urls = read_url_file(tag_pages_file)
        have = {norm_slug(urlsplit(u).path.rstrip("/").rsplit("/", 1)[-1]) for u in tag_urls}
        tags_dir = os.path.join(out, "tags")
        wrote = sorted(os.listdir(tags_dir)) if os.path.isdir(tags_dir) else []
        for d in wrote:
            if os.path.isdir(os.path.join(tags_dir, d)) and norm_slug(d) not in have:
                problems.append(f"herald wrote tags/{d}/ but the generator has no tag page "
                                f"tags/{d}/ (it has: {', '.join(sorted(have)) or 'none'})")

    if problems:
        print(f"parity {gen}: {len(expected)} posts, {len(links)} items, DIFFERENT")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"parity {gen}: {len(expected)} posts, {len(links)} items, equal")
    return 0


def norm_slug(s):
    return unicodedata.normalize("NFC", unquote(s))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("urls")
    a.add_argument("gen", choices=sorted(SITES))
    a.add_argument("built")
    a.add_argument("--tags", action="store_true")
    a = sub.add_parser("prepare")
    a.add_argument("site")
    a = sub.add_parser("compare")
    a.add_argument("gen")
    a.add_argument("site")
    a.add_argument("--expected", required=True)
    a.add_argument("--tag-pages")
    a.add_argument("--built")
    args = ap.parse_args()
    try:
        if args.cmd == "urls":
            if args.tags:
                print("\n".join(tag_pages(args.gen, args.built)))
                return 0
            pages, problems = post_pages(args.gen, args.built)
            if problems:
                for p in problems:
                    print(f"parity {args.gen}: {p}", file=sys.stderr)
                return 1
            print("\n".join(sorted(pages)))
            return 0
        if args.cmd == "prepare":
            print(prepare(args.site))
            return 0
        return compare(args.gen, args.site, args.expected, args.tag_pages, args.built)
    except (Unreadable, OSError, KeyError, yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        print(f"parity_check.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
