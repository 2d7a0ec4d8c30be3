#!/usr/bin/env python3
"""Deterministic benchmark corpus for herald. Python 3 stdlib only.

Three kinds of site:

  gen_corpus.py site --herald DIR [--hugo DIR] [--posts N] [--tags M] [--subscribers S] [--seed K]
      N posts of about 600 words (headings, lists, site-relative and absolute links, inline
      code) over M tags (1-4 per post), dated over ten years (2015-2024), written as a herald
      site (config/herald.yaml, content/posts/*.md, config/subscribers/*.csv with S
      subscribers spread over lists by tag) and, with --hugo, the same posts as a Hugo site
      that outputs only the home and per-tag RSS feeds (20 items, full content).
      The newsletter starts on 2025-01-01, after every post: a publish mails nothing.

  gen_corpus.py send --herald DIR --port P [--subscribers S] [--digest] [--seed K]
      One old post (before newsletter.start, never mailed) and one new post dated
      2025-03-01T09:00:00Z, S subscribers in one list with tags ["*"], transport smtp to
      127.0.0.1:P with security none and concurrency 4. With --digest the list is a weekly
      digest (Sundays 00:00 UTC) and, instead of the one new post, twenty are dated
      2025-02-20 to 2025-03-01: the slot of 2025-03-02T00:00:00Z mails them as one digest.

  gen_corpus.py hugo-site --dir DIR [--posts N] [--tags M] [--seed K]
      The posts of `site` with the same N, M and K (same titles, dates, tags and bodies) as
      an existing Hugo blog: hugo.toml with [permalinks] posts = "/:year/:month/:slug/",
      content/_index.md and content/posts/_index.md (sections, not posts), posts as YAML
      `---` files, TOML `+++` files (a few JSON) and page bundles <name>/index.md, some with
      `slug` in front matter, Hugo's `2021-10-01 8:30:00+00:00` dates, `<!--more-->` and a
      figure shortcode; and herald.yaml in the root (site.generator: hugo, feeds to static/,
      state in .herald/). No newsletter.

Same arguments => byte-identical files. Run herald on these sites with
--now 2025-06-01T00:00:00Z (site, hugo-site) or see bench/run for the send timeline.
"""

import argparse
import csv
import io
import json
import os
import random
from datetime import datetime, timedelta, timezone

WORDS = """
able about account across action active actual advice agency agent almost already
always amount analysis answer anyone appeal approach area argument article audience
average balance basis better beyond brand budget build business buyer call campaign
capture career case cause center chance change channel choice claim clear client close
cold common company compare content context contract control convert cost count course
create credit culture current customer cycle data deal decision demand design detail
develop digital direct discover domain draft driver early effect effort email engage
enough event exact expert factor feature field final focus follow force form forward
funnel future goal good growth guide habit handle health history honest idea impact
improve include index inside intent issue journey keep known large launch layer lead
learn level light limit list local logic long loyal manager market measure media method
metric middle model modern moment money month motion native network niche number offer
office online open option order organic outcome owner page partner pattern people
period person phone pitch place plan platform point policy portal power practice price
process product profile profit program project prospect public purpose quality query
quick reach ready real reason record referral region report research result retain
return review revenue right risk role sale sample scale score search season segment
sell service share signal simple skill small social source space speed stage standard
start state step story strategy strong study style success supply support survey system
target team tech term test thing time tool topic track trade traffic trend trust type
unique update user value vendor video view visit voice volume website week window work
world write year yield zone
""".split()

TAG_ADJ = """
account active annual b2b b2c brand cold content conversion customer data digital direct
email event field growth inbound local marketing mobile organic outbound paid partner
product remote sales search social startup video web
""".split()

TAG_NOUN = """
analytics automation budget calls campaigns channels copywriting crm design funnels growth
hiring insights leads metrics nurturing offers outreach pipeline pricing prospecting
rate research retention reviews scoring seo strategy teams tools traffic trends
""".split()

FIRST = "Ada Alan Anna Ben Carla Chen Dana Emil Eva Farid Greta Hana Ivan Jana Jonas Kai Lea Lina Marco Mia Nora Omar Paula Ravi Sara Tom Uma Vera Yuki Zoe".split()
LAST = "Abe Berg Cruz Dahl Eklund Fox Garcia Haas Ito Jensen Klein Lopez Meyer Novak Okafor Park Quinn Rossi Silva Tanaka Ueda Varga Weber Xu Young Zimmer".split()

OFFSETS = ["+00:00", "+01:00", "+02:00", "-05:00", "+05:30", "-08:00", "+09:00"]
SITE_NOW = "2025-06-01T00:00:00Z"  # after every generated post; bench/run passes it as --now


def rfc3339(dt, offset):
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return dt.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S") + offset


def sentence(rng, n_min=6, n_max=16):
    words = rng.choices(WORDS, k=rng.randint(n_min, n_max))
    return " ".join(words).capitalize() + "."


def make_tags(rng, m):
    """m distinct tag names like 'email funnels' (distinct slugs too)."""
    pairs = [f"{a} {b}" for a in TAG_ADJ for b in TAG_NOUN]
    rng.shuffle(pairs)
    if m > len(pairs):
        pairs += [f"{p} {i}" for i in range(1, m // len(pairs) + 1) for p in pairs[:]]
    return pairs[:m]


def make_body(rng, slugs, words_target=600):
    """Markdown of about words_target words: paragraphs, ## headings, lists, links, code."""
    out = []
    words = 0
    section = 0
    while words < words_target:
        kind = rng.random()
        if section == 0 or kind < 0.12:
            section += 1
            title = " ".join(rng.choices(WORDS, k=rng.randint(2, 5))).title()
            out.append(f"## {title}")
            words += 3
            kind = 1.0  # a heading is followed by a paragraph
        if kind < 0.30:
            ordered = rng.random() < 0.4
            items = []
            for i in range(rng.randint(3, 6)):
                text = " ".join(rng.choices(WORDS, k=rng.randint(4, 10)))
                items.append(f"{i + 1}. **{text.capitalize()}**" if ordered else f"- {text.capitalize()}")
                words += len(text.split())
            out.append("\n".join(items))
        else:
            parts = []
            for _ in range(rng.randint(3, 6)):
                s = sentence(rng)
                r = rng.random()
                if r < 0.15:
                    target = rng.choice(slugs)
                    s += f" See [{rng.choice(WORDS)} {rng.choice(WORDS)}](/posts/{target}/)."
                elif r < 0.25:
                    s += f" Read [the {rng.choice(WORDS)} guide](https://www.example.org/{rng.choice(WORDS)}/{rng.randint(1, 999)})."
                elif r < 0.35:
                    s += f" Call `{rng.choice(WORDS)}_{rng.choice(WORDS)}({rng.randint(0, 9)})` first."
                elif r < 0.40:
                    s += f" This is **{rng.choice(WORDS)}** and *{rng.choice(WORDS)}*."
                parts.append(s)
                words += len(s.split())
            out.append(" ".join(parts))
    return "\n\n".join(out) + "\n"


def post_file(title, date, tags, body):
    lines = ["---", f'title: "{title}"', f"date: {date}", "tags:"]
    lines += [f'  - "{t}"' for t in tags]
    lines += ["---", "", body]
    return "\n".join(lines)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def subscribers_csv(rng, emails):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180
    w.writerow(["email", "name"])
    for email in emails:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if rng.random() < 0.05:
            name = f"{rng.choice(LAST)}, {rng.choice(FIRST)}"  # needs quoting
        elif rng.random() < 0.05:
            name = ""
        w.writerow([email, name])
    return buf.getvalue()


SITE_YAML = """site:
  title: Herald Bench
  base_url: https://bench.example.com/
  description: Generated benchmark corpus
  language: en
  timezone: UTC
  author: {{ name: Bench Author, email: author@example.com }}
feeds:
  formats: [rss, atom, json]
  limit: 20
  full_content: true
  per_tag: true
"""


def make_posts(rng, n_posts, n_tags):
    """The tags and n_posts posts (slug, title, UTC datetime, offset, tags, body) of a `site` corpus."""
    tags = make_tags(rng, n_tags)
    start = datetime(2015, 1, 1, tzinfo=timezone.utc)
    span = int(timedelta(days=3650).total_seconds())  # 2015-01-01 .. 2024-12-29
    posts = []
    slugs = [f"p{i:06d}-" + "-".join(rng.choices(WORDS, k=3)) for i in range(n_posts)]
    for slug in slugs:
        title = " ".join(rng.choices(WORDS, k=rng.randint(4, 9))).title()
        if rng.random() < 0.1:
            title += "?"
        dt = start + timedelta(seconds=rng.randrange(span))
        offset = rng.choice(OFFSETS)
        ptags = rng.sample(tags, rng.randint(1, 4))
        body = make_body(rng, slugs)
        posts.append((slug, title, dt, offset, ptags, body))
    return tags, posts


def gen_site(a):
    rng = random.Random(a.seed)
    tags, posts = make_posts(rng, a.posts, a.tags)
    posts = [(slug, post_file(title, rfc3339(dt, offset), ptags, body))
             for slug, title, dt, offset, ptags, body in posts]

    for slug, text in posts:
        write(os.path.join(a.herald, "content", "posts", slug + ".md"), text)

    # Newsletter: one list per tag for the first min(20, M) tags; each subscriber in 1-3 lists.
    n_lists = min(20, len(tags))
    members = [[] for _ in range(n_lists)]
    for i in range(a.subscribers):
        for li in rng.sample(range(n_lists), min(n_lists, rng.randint(1, 3))):
            members[li].append(f"user{i:07d}@example.com")
    yaml = SITE_YAML.format()
    yaml += (
        "newsletter:\n"
        "  start: 2025-01-01\n"
        "  from: { name: Herald Bench, email: newsletter@example.com }\n"
        "  lists:\n"
    )
    for li in range(n_lists):
        yaml += (
            f"    - id: list-{li:02d}\n"
            f'      name: "{tags[li].title()} news"\n'
            f'      tags: ["{tags[li]}"]\n'
            f"      subscribers: config/subscribers/list-{li:02d}.csv\n"
        )
        write(os.path.join(a.herald, "config", "subscribers", f"list-{li:02d}.csv"),
              subscribers_csv(rng, members[li]))
    write(os.path.join(a.herald, "config", "herald.yaml"), yaml)

    if a.hugo:
        for slug, text in posts:
            write(os.path.join(a.hugo, "content", "posts", slug + ".md"), text)
        write(os.path.join(a.hugo, "hugo.toml"), HUGO_TOML)
        write(os.path.join(a.hugo, "layouts", "_default", "rss.xml"), HUGO_RSS)


def gen_send(a):
    rng = random.Random(a.seed)
    old = make_body(rng, ["welcome"])
    new = make_body(rng, ["welcome"])
    write(os.path.join(a.herald, "content", "posts", "welcome.md"),
          post_file("Welcome To The Bench", "2024-12-01T09:00:00+00:00", ["news"], old))
    if a.digest:
        for i in range(20):
            date = f"2025-02-{20 + i // 2:02d}T{9 + 6 * (i % 2):02d}:00:00+00:00"
            if i >= 18:
                date = f"2025-03-01T{9 + 6 * (i % 2):02d}:00:00+00:00"
            write(os.path.join(a.herald, "content", "posts", f"digest-{i:02d}.md"),
                  post_file(f"Digest Post Number {i + 1}", date, ["news"], make_body(rng, ["welcome"])))
    else:
        write(os.path.join(a.herald, "content", "posts", "big-news.md"),
              post_file("Big News For Every Subscriber", "2025-03-01T09:00:00+00:00", ["news", "growth leads"], new))
    emails = [f"user{i:07d}@example.com" for i in range(a.subscribers)]
    write(os.path.join(a.herald, "config", "subscribers", "all.csv"), subscribers_csv(rng, emails))
    yaml = SITE_YAML.format() + (
        "newsletter:\n"
        "  start: 2025-01-01\n"
        "  from: { name: Herald Bench, email: newsletter@example.com }\n"
        "  transport: smtp\n"
        "  lists:\n"
        "    - id: all\n"
        "      name: Everything\n"
        '      tags: ["*"]\n'
        "      subscribers: config/subscribers/all.csv\n"
        + ('      digest: { every: week, weekday: sun, at: "00:00" }\n' if a.digest else "")
        + "smtp:\n"
        "  host: 127.0.0.1\n"
        f"  port: {a.port}\n"
        "  security: none\n"
        "  concurrency: 4\n"
    )
    write(os.path.join(a.herald, "config", "herald.yaml"), yaml)


# ---------------------------------------------------------------- hugo-site: herald reads a Hugo blog

HUGO_SITE_TOML = """baseURL = "https://bench.example.com/"
title = "Herald Bench"
languageCode = "en"

[permalinks]
  posts = "/:year/:month/:slug/"

[taxonomies]
  tag = "tags"
"""

HUGO_SITE_HERALD_YAML = """# herald reads this Hugo site's posts as they are (site.generator: hugo).
site:
  generator: hugo
  title: Herald Bench
  base_url: https://bench.example.com/
  timezone: UTC
  permalinks: { posts: "/:year/:month/:slug/" }
content_dir: content/posts
content: { root: content }
output_dir: static
state_dir: .herald
templates_dir: .herald/templates
feeds:
  formats: [rss, atom, json]
  limit: 20
  full_content: true
  per_tag: true
"""


def hugo_date(dt, offset, form):
    """A post date as Hugo reads it: RFC 3339, or form "hour" = Hugo's `2021-10-01 8:30:00+00:00`
    (space, hour without a leading zero)."""
    text = rfc3339(dt, offset)
    if form == "hour":
        day, clock = text[:10], text[11:]
        text = f"{day} {int(clock[:2])}{clock[2:]}"
    return text


def yaml_front(title, date, tags, slug):
    lines = ["---", f'title: "{title}"']
    lines += [f"slug: {slug}"] if slug else []
    lines += [f"date: {date}", "tags:"] + [f'  - "{t}"' for t in tags]
    return "\n".join(lines + ["---"])


def toml_front(title, date, tags, slug, toml_datetime):
    # A TOML datetime is only RFC 3339; Hugo's other date forms are strings.
    date = (date[:-6] + "Z" if date.endswith("+00:00") else date) if toml_datetime else f'"{date}"'
    lines = ["+++", f'title = "{title}"']
    lines += [f'slug = "{slug}"'] if slug else []
    lines += [f"date = {date}", "tags = [" + ", ".join(f'"{t}"' for t in tags) + "]"]
    return "\n".join(lines + ["+++"])


def json_front(title, date, tags, slug):
    fm = {"title": title, **({"slug": slug} if slug else {}), "date": date, "tags": tags}
    return json.dumps(fm, indent=2)


def hugo_body(rng, body, bundle):
    """body with, for some posts, a <!--more--> summary divider and a figure shortcode."""
    if rng.random() >= 0.25:
        return body
    blocks = body.rstrip("\n").split("\n\n")
    src = f"{rng.choice(WORDS)}.jpg" if bundle else f"/images/{rng.choice(WORDS)}-{rng.randint(1, 99)}.jpg"
    figure = f'{{{{< figure src="{src}" caption="{sentence(rng, 3, 8)}" >}}}}'
    blocks.insert(rng.randint(2, len(blocks)), figure)
    blocks.insert(2, "<!--more-->")  # after the first heading and its paragraph
    return "\n\n".join(blocks) + "\n"


def gen_hugo_site(a):
    """The posts of `site --seed K` (same titles, dates, tags, bodies) as a Hugo blog, and a
    herald.yaml in its root with site.generator: hugo. Posts: about a third YAML `---` files, a
    third TOML `+++` files (a few JSON), a third page bundles <slug>/index.md (YAML or TOML).
    About 15% name their slug in front matter (the file or folder is then pNNNNNN only), 15%
    use Hugo's `2021-10-01 8:30:00+00:00` date form, 25% have <!--more--> and a figure."""
    _, posts = make_posts(random.Random(a.seed), a.posts, a.tags)
    rng = random.Random(f"hugo-site/{a.seed}")  # the dialect's choices; the posts stay those of `site`
    posts_dir = os.path.join(a.dir, "content", "posts")
    for slug, title, dt, offset, ptags, body in posts:
        r = rng.random()
        kind = "yaml" if r < 0.31 else "json" if r < 0.34 else "toml" if r < 0.67 else "bundle"
        fm_slug = slug if rng.random() < 0.15 else None
        name = slug[:7] if fm_slug else slug  # pNNNNNN: Hugo takes the slug from front matter
        form = "hour" if rng.random() < 0.15 else "rfc3339"
        date = hugo_date(dt, offset, form)
        body = hugo_body(rng, body, kind == "bundle")
        if kind == "bundle":
            kind = rng.choice(["yaml", "toml"])
            path = os.path.join(posts_dir, name, "index.md")
        else:
            path = os.path.join(posts_dir, name + ".md")
        if kind == "yaml":
            front = yaml_front(title, date, ptags, fm_slug)
        elif kind == "json":
            front = json_front(title, date, ptags, fm_slug)
        else:
            front = toml_front(title, date, ptags, fm_slug, form == "rfc3339")
        write(path, front + "\n\n" + body)
    write(os.path.join(a.dir, "content", "_index.md"), '---\ntitle: "Herald Bench"\n---\n\nWelcome.\n')
    write(os.path.join(posts_dir, "_index.md"), '+++\ntitle = "Posts"\n+++\n\nEvery post.\n')
    write(os.path.join(a.dir, "static", "robots.txt"), "User-agent: *\nAllow: /\n")
    write(os.path.join(a.dir, "hugo.toml"), HUGO_SITE_TOML)
    write(os.path.join(a.dir, "herald.yaml"), HUGO_SITE_HERALD_YAML)


# Hugo: only the home and taxonomy-term RSS feeds; pages are read and linked, never rendered.
HUGO_TOML = """baseURL = "https://bench.example.com/"
title = "Herald Bench"
languageCode = "en"
disableKinds = ["section", "taxonomy", "sitemap", "robotsTXT", "404"]
ignoreErrors = ["error-disable-taxonomy"]  # "taxonomy" is the /tags/ list page, meant

[taxonomies]
  tag = "tags"

[outputs]
  home = ["RSS"]
  term = ["RSS"]
  page = []

[services.rss]
  limit = 20

[[cascade]]
  [cascade._build]
    render = "link"
    list = "always"
  [cascade._target]
    kind = "page"
"""

HUGO_RSS = """{{- $pctx := . -}}
{{- if .IsHome -}}{{ $pctx = .Site }}{{- end -}}
{{- $pages := $pctx.RegularPages -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}{{- $pages = $pages | first $limit -}}{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{{ if eq .Title .Site.Title }}{{ .Site.Title }}{{ else }}{{ .Site.Title }}: {{ .Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content in {{ .Title }}</description>
    <generator>Hugo</generator>
    <language>{{ site.LanguageCode }}</language>
    {{- if not .Date.IsZero }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>
    {{- end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      {{- range .Params.tags }}
      <category>{{ . }}</category>
      {{- end }}
      <description>{{ .Summary | html }}</description>
      <content:encoded>{{ .Content | html }}</content:encoded>
    </item>
    {{- end }}
  </channel>
</rss>
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    s = sub.add_parser("site", help="N posts over M tags, herald (and Hugo) site")
    s.add_argument("--herald", required=True, help="herald site directory to create")
    s.add_argument("--hugo", help="Hugo site directory to create with the same posts")
    s.add_argument("--posts", type=int, default=10000)
    s.add_argument("--tags", type=int, default=200)
    s.add_argument("--subscribers", type=int, default=10000)
    s.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("send", help="one due post to S subscribers over SMTP")
    m.add_argument("--herald", required=True)
    m.add_argument("--port", type=int, required=True, help="SMTP port on 127.0.0.1")
    m.add_argument("--subscribers", type=int, default=10000)
    m.add_argument("--digest", action="store_true", help="a weekly digest of twenty posts instead of one post")
    m.add_argument("--seed", type=int, default=1)
    h = sub.add_parser("hugo-site", help="the posts of `site` as a Hugo blog with a herald.yaml (generator: hugo)")
    h.add_argument("--dir", required=True, help="Hugo site directory to create")
    h.add_argument("--posts", type=int, default=10000)
    h.add_argument("--tags", type=int, default=200)
    h.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    for d in (getattr(a, "herald", None), getattr(a, "hugo", None), getattr(a, "dir", None)):
        if d and os.path.exists(d) and os.listdir(d):
            p.error(f"{d} exists and is not empty")
    {"site": gen_site, "send": gen_send, "hugo-site": gen_hugo_site}[a.kind](a)


if __name__ == "__main__":
    main()
