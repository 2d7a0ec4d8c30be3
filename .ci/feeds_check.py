#!/usr/bin/env python3
"""feeds_check.py: read a built herald site's feeds the way a feed reader does, and check that
they hold exactly the posts they should, with exactly their titles, newest first.

Usage:
  python3 .ci/feeds_check.py --now 2026-11-25T12:00:00Z SITE [SITE...]

SITE is a site root that `herald --site SITE --now NOW build` has built, with the same NOW.
The expectations come from the site itself, independently of herald's code: its
config/herald.yaml and the front matter of every post under content_dir, read with PyYAML.
From them this script works out which posts are due and not drafts at NOW (README "Posts"),
their titles (CR/LF and runs of spaces become one space), their order (newest `date` first,
ties by slug) and `feeds.limit`, then compares that, as a set and as an order, with the titles
of every feed written: the site feeds and, with `feeds.per_tag`, one set per tag (tag merged by
slug, feed titled "<site title>: <name of the oldest post's spelling>"). No other tag folder may
hold feeds.

RSS and Atom are read with feedparser. The released feedparser (6.0) cannot read JSON Feed, so
feed.json is read with the json module.

Needs: pip install feedparser pyyaml. Exits 1 on any mismatch, naming the file and the titles,
2 on a usage error.
"""
import argparse
import json
import os
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

try:
    import feedparser
    import yaml
    from herald_site import SiteError, load_yaml, one_line, read_posts
except ImportError as e:
    print(f"feeds_check.py needs feedparser and pyyaml: pip install feedparser pyyaml ({e})",
          file=sys.stderr)
    sys.exit(2)

FILES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}


Problem = SiteError


def load_config(root):
    path = os.path.join(root, "config", "herald.yaml")
    with open(path, encoding="utf-8-sig") as f:
        raw = load_yaml(f)
    site = raw.get("site") or {}
    feeds = raw.get("feeds") or {}
    limit = feeds.get("limit", 20)
    return {
        "title": one_line(str(site["title"])),
        "timezone": ZoneInfo(site.get("timezone") or "UTC"),
        "content_dir": os.path.join(root, raw.get("content_dir") or "content/posts"),
        "output_dir": os.path.join(root, raw.get("output_dir") or "public"),
        "formats": sorted(set(feeds.get("formats") or ["rss", "atom", "json"])),
        "limit": None if limit == 0 else limit,
        "per_tag": feeds.get("per_tag", True),
    }


def load_posts(root, config):
    return read_posts(root, config["content_dir"], config["timezone"])


def expected_feeds(root, config, now):
    """{feed folder relative to output_dir: (feed title, [item titles newest first])}."""
    posts = [p for p in load_posts(root, config) if not p["draft"] and p["date"] <= now]
    posts.sort(key=lambda p: p["slug"])
    posts.sort(key=lambda p: p["date"], reverse=True)
    limit = config["limit"]
    cut = (lambda items: items) if limit is None else (lambda items: items[:limit])
    feeds = {"": (config["title"], cut([p["title"] for p in posts]))}
    if config["per_tag"]:
        names = {}
        for p in sorted(posts, key=lambda p: (p["date"], p["source"])):
            for slug, name in p["tags"].items():
                names.setdefault(slug, name)
        for slug, name in names.items():
            items = [p["title"] for p in posts if slug in p["tags"]]
            feeds[f"tags/{slug}/"] = (f"{config['title']}: {name}", cut(items))
    return feeds


def read_feed(path, fmt):
    """(feed title, [item titles in file order]) as a reader sees them."""
    if fmt == "json":
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return doc.get("title"), [i.get("title") for i in doc.get("items", [])]
    d = feedparser.parse(path)
    if d.bozo:
        raise Problem(f"{path}: feedparser cannot read it: {d.bozo_exception}")
    return d.feed.get("title"), [e.get("title") for e in d.entries]


def compare(path, want_title, want, got_title, got):
    problems = []
    if got_title != want_title:
        problems.append(f"{path}: feed title {got_title!r}, expected {want_title!r}")
    if got != want:
        missing = [t for t in want if t not in got]
        extra = [t for t in got if t not in want]
        if missing or extra:
            problems.append(f"{path}: titles differ: missing {missing}, unexpected {extra}")
        else:
            problems.append(f"{path}: titles out of order (newest first, ties by slug):\n"
                            f"    expected {want}\n    got      {got}")
    return problems


def check_site(root, now):
    config = load_config(root)
    out = config["output_dir"]
    expected = expected_feeds(root, config, now)
    problems, checked = [], 0
    for folder, (title, titles) in expected.items():
        for fmt in config["formats"]:
            path = os.path.join(out, folder, FILES[fmt])
            if not os.path.isfile(path):
                problems.append(f"{path}: missing ({len(titles)} posts expected)")
                continue
            got_title, got = read_feed(path, fmt)
            problems += compare(path, title, titles, got_title, got)
            checked += 1
    tags_dir = os.path.join(out, "tags")
    if os.path.isdir(tags_dir):
        for slug in sorted(os.listdir(tags_dir)):
            has_feed = any(os.path.isfile(os.path.join(tags_dir, slug, f)) for f in FILES.values())
            if has_feed and f"tags/{slug}/" not in expected:
                problems.append(f"{os.path.join(tags_dir, slug)}: feeds for a tag with no due post")
    return checked, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--now", required=True, help="the --now the sites were built with (RFC 3339)")
    ap.add_argument("sites", nargs="+", metavar="SITE", help="a built site root")
    args = ap.parse_args(argv)
    try:
        now = datetime.fromisoformat(args.now.replace("z", "Z"))
    except ValueError:
        ap.error(f"--now {args.now!r} is not RFC 3339")
    if now.tzinfo is None:
        ap.error(f"--now {args.now!r} has no offset")
    now = now.astimezone(timezone.utc)
    failed, total = False, 0
    for site in args.sites:
        try:
            checked, problems = check_site(site, now)
        except (Problem, OSError, KeyError, yaml.YAMLError) as e:
            checked, problems = 0, [f"{site}: {e}"]
        total += checked
        for p in problems:
            print(f"feeds_check: {p}", file=sys.stderr)
        failed |= bool(problems)
        print(f"feeds_check: {site}: {checked} feeds, {'MISMATCH' if problems else 'ok'}")
    if failed:
        print("feeds_check: failed: the titles above differ from the site's posts", file=sys.stderr)
        return 1
    print(f"feeds_check: {total} feeds in {len(args.sites)} sites: every title exact, in order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
