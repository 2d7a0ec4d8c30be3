#!/usr/bin/env bash
# parity.sh HERALD_BINARY: herald reads the fixture blogs in tests/fixtures/{hugo,jekyll,
# eleventy,zola} unchanged, and its feeds must hold exactly the post pages the real generator
# publishes.
#
# For Hugo, Jekyll and Eleventy: build a temp copy of the fixture with the real generator
# (TZ=UTC for its process), collect every written HTML file that carries the post marker
# <meta name="herald-post" content="1"> as an absolute URL, and check that list against the
# fixture's committed expected-urls.txt (the Rust tests read those files; `--update` rewrites
# them, and expected-tag-pages.txt, from the generators instead). Then, in another temp copy:
# `herald init --from DIR`, feeds.limit: 0, `herald --site DIR build`, and parity_check.py
# compares the <item><link>s of rss.xml with the generator's list, looks for template syntax in
# every feed item, and matches each tags/<slug>/ feed folder with a generator tag page.
# Zola cannot be installed here: its expected-urls.txt and expected-tag-pages.txt are written
# by hand from Zola's documented rules (tests/fixtures/zola/README.md).
#
# Usage: bash .ci/parity.sh HERALD_BINARY      (from any directory)
#        bash .ci/parity.sh --generators-only  (no herald: build and check expected-urls.txt)
#        bash .ci/parity.sh --update           (no herald: rewrite the expected-*.txt files)
# Installs what it needs, idempotently, on a new Debian 12 machine as root: Debian's hugo and
# jekyll, and Eleventy from npm as pinned by .ci/generators/package-lock.json (into
# $HERALD_PARITY_CACHE, default /var/cache/herald-parity, outside the repository).
set -euo pipefail

mode=herald herald=
case "${1:-}" in
  --generators-only) mode=generators ;;
  --update) mode=update ;;
  "" | -*) echo "usage: $0 HERALD_BINARY | --generators-only | --update" >&2; exit 2 ;;
  */*) herald=$(realpath -m -- "$1") ;; # before the cd below: relative to the caller
  *) herald=$(command -v -- "$1" || true) ;;
esac
if [[ $mode == herald && ! -x $herald ]]; then
  echo "parity: $1 is not an executable" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '%s\n' "$*"; }
t0=$SECONDS

# --- tools ----------------------------------------------------------------------------------
need=()
command -v hugo >/dev/null 2>&1 || need+=(hugo)
command -v jekyll >/dev/null 2>&1 || need+=(jekyll)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when apt does not know the packages yet.
  if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then
    apt-get update -qq
  fi
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore pyyaml \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null
fi

cache=${HERALD_PARITY_CACHE:-/var/cache/herald-parity}/eleventy
eleventy=$cache/node_modules/.bin/eleventy
if [[ ! -x $eleventy ]] || ! cmp -s .ci/generators/package-lock.json "$cache/package-lock.json"; then
  rm -rf "$cache"
  mkdir -p "$cache"
  cp .ci/generators/package.json .ci/generators/package-lock.json "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
say "parity: $(hugo version | cut -d' ' -f1-2), jekyll $(jekyll --version | cut -d' ' -f2)," \
  "eleventy $("$eleventy" --version), node $(node --version)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- the generators -------------------------------------------------------------------------
build() { # build GEN DIR: the real generator on DIR, in place
  local gen=$1 dir=$2
  case $gen in
    hugo) (cd "$dir" && TZ=UTC hugo --quiet) ;;
    # --safe: no plugins, as GitHub Pages builds; no Gemfile, no bundler.
    jekyll) (cd "$dir" && TZ=UTC jekyll build --safe --quiet) ;;
    eleventy) (cd "$dir" && TZ=UTC "$eleventy" --quiet >/dev/null) ;;
  esac
}

status=0
gens=(hugo jekyll eleventy)
declare -A post_urls tag_urls
tg=$SECONDS
for gen in "${gens[@]}"; do
  fixture=tests/fixtures/$gen
  built=$work/$gen-built
  cp -r "$fixture" "$built"
  build "$gen" "$built"
  post_urls[$gen]=$work/$gen-urls.txt
  python3 .ci/parity_check.py urls "$gen" "$built" >"${post_urls[$gen]}"
  tag_urls[$gen]=
  if [[ $gen != jekyll ]]; then # Jekyll writes no tag pages
    tag_urls[$gen]=$work/$gen-tag-pages.txt
    python3 .ci/parity_check.py urls --tags "$gen" "$built" >"${tag_urls[$gen]}"
  fi
  if [[ $mode == update ]]; then
    cp "${post_urls[$gen]}" "$fixture/expected-urls.txt"
    [[ -z ${tag_urls[$gen]} ]] || cp "${tag_urls[$gen]}" "$fixture/expected-tag-pages.txt"
    say "parity $gen: wrote $fixture/expected-urls.txt ($(wc -l <"${post_urls[$gen]}") posts)"
    continue
  fi
  for pair in "${post_urls[$gen]}:expected-urls.txt" "${tag_urls[$gen]}:expected-tag-pages.txt"; do
    got=${pair%%:*} name=${pair#*:}
    [[ -n $got ]] || continue
    if ! diff -u "$fixture/$name" "$got" >"$work/diff" 2>&1; then
      say "parity $gen: $fixture/$name is not what $gen builds (bash .ci/parity.sh --update):"
      sed 's/^/  /' "$work/diff"
      status=1
    fi
  done
  say "parity $gen: $gen built $(wc -l <"${post_urls[$gen]}") posts"
done
say "parity: generators took $((SECONDS - tg))s"
if [[ $mode != herald ]]; then
  exit $status
fi

# --- herald ---------------------------------------------------------------------------------
run_herald() { # run_herald GEN: init --from, feeds.limit 0, build, compare
  local gen=$1 site=$work/$1-herald config
  cp -r "tests/fixtures/$gen" "$site"
  if ! "$herald" init --from "$site" >"$work/$gen-init.log" 2>&1; then
    say "parity $gen: herald init --from failed:"; sed 's/^/  /' "$work/$gen-init.log"
    return 1
  fi
  config=$(python3 .ci/parity_check.py prepare "$site") || return 1
  if ! "$herald" --site "$site" --config "$config" build >"$work/$gen-build.log" 2>&1; then
    say "parity $gen: herald build failed:"; sed 's/^/  /' "$work/$gen-build.log"
    return 1
  fi
  local args=(--expected "$root/tests/fixtures/$gen/expected-urls.txt")
  if [[ $gen == zola ]]; then
    args+=(--tag-pages "$root/tests/fixtures/zola/expected-tag-pages.txt")
  else
    args=(--expected "${post_urls[$gen]}" --built "$work/$gen-built")
    [[ -z ${tag_urls[$gen]} ]] || args+=(--tag-pages "${tag_urls[$gen]}")
  fi
  python3 .ci/parity_check.py compare "$gen" "$site" "${args[@]}"
}

for gen in "${gens[@]}" zola; do
  run_herald "$gen" || status=1
done
say "parity: done in $((SECONDS - t0))s"
exit $status
