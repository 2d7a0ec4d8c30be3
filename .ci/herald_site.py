"""herald_site.py: a herald site's posts as README.md "Posts" describes them, read independently of
herald's own code (PyYAML), for the CI checks that compare herald's output with what it should
be (feeds_check.py, smtp_check.py).
"""
import os
import re
from datetime import datetime, time

import yaml


class SiteError(Exception):
    """The site itself is not what a check can read."""


class Yaml12Loader(yaml.SafeLoader):
    """YAML as herald's serde_yaml reads it (YAML 1.2 core schema): dates stay strings, and only
    true/false are booleans (PyYAML's YAML 1.1 would turn `yes`, `on` or a date into values)."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text):
    return yaml.load(text, Loader=Yaml12Loader) or {}


def one_line(s):
    """Every run of whitespace (CR and LF included) becomes one space; ends trimmed."""
    return " ".join(str(s).split())


def scalar(v):
    """A YAML scalar as herald reads it into text; None for anything else."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, float)):
        return str(v)
    return None


def slugify(s):
    """README "Subscribing to a tag": lowercase, Unicode letters and digits kept, every other run of
    characters one `-`, no `-` at the ends."""
    out, dash = [], False
    for c in s:
        if c.isalnum():
            if dash and out:
                out.append("-")
            dash = False
            out.extend(ch for ch in c.lower() if ch.isalnum())
        else:
            dash = True
    return "".join(out)


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
LOCAL_FORMS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def parse_date(s, tz):
    """The date forms of README "Posts"; forms without an offset are read in `tz`."""
    s = str(s).strip()
    if RFC3339.match(s):
        return datetime.fromisoformat(s.replace("z", "Z"))
    try:
        naive = datetime.combine(datetime.strptime(s, "%Y-%m-%d").date(), time())
    except ValueError:
        naive = None
        for form in LOCAL_FORMS:
            try:
                naive = datetime.strptime(s, form)
                break
            except ValueError:
                pass
    if naive is None:
        raise SiteError(f"invalid date {s!r}")
    # fold=0: the earlier instant in a DST fold; in a gap this lands where herald moves it.
    return naive.replace(tzinfo=tz, fold=0)


def front_matter(shown, text):
    """The front matter of a post's text as a dict (BOM and CRLF accepted)."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise SiteError(f"{shown}: no front matter")
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return load_yaml("".join(lines[1:i]))
    raise SiteError(f"{shown}: unclosed front matter")


def read_posts(root, content_dir, tz):
    """Every post under `content_dir`, sorted by path: source (relative to `root`), slug,
    title, date, draft and tags ({tag slug: the post's spelling})."""
    files = []
    for dirpath, dirnames, filenames in os.walk(content_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files += [os.path.join(dirpath, f) for f in filenames
                  if f.endswith(".md") and not f.startswith(".")]
    posts = []
    for path in sorted(files):
        shown = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            fm = front_matter(shown, f.read())
        stem = os.path.basename(path)[:-len(".md")]
        if "slug" in fm:
            slug = slugify(scalar(fm["slug"]) or "")
        else:
            slug = slugify(re.sub(r"^\d{4}-\d{2}-\d{2}-(?=.)", "", stem))
        tags = fm.get("tags") or []
        if not isinstance(tags, list):
            tags = [tags]
        post_tags = {}
        for t in tags:
            name = one_line(scalar(t) or "")
            post_tags.setdefault(slugify(name), name)
        posts.append({
            "source": shown,
            "slug": slug,
            "title": one_line(scalar(fm.get("title")) or ""),
            "date": parse_date(scalar(fm.get("date")) or "", tz),
            "draft": fm.get("draft") is True,
            "tags": post_tags,
        })
    return posts
