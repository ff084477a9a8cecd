#!/usr/bin/env bash
# it_man.sh -- the manual page rdbsync.1 and `make install` / `make uninstall`.
#
#   man.render        `man -l rdbsync.1` renders it (NAME, SYNOPSIS, OPTIONS,
#                     EXIT STATUS, EXAMPLES) and groff has no warning for it
#   man.flag <flag>   every flag `rdbsync --help` prints is in the page
#   man.exit <code>   every exit status of the README's table is under EXIT STATUS
#   man.install.*     make install PREFIX=<tmp> puts the binary and the page
#                     there (man finds it by name), make uninstall removes both
# Skips the rendering checks when man is not installed (CI installs man-db).
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

page=${MAN_PAGE:-$ROOT/rdbsync.1}
bin=$RDBSYNC_REL
[ -x "$bin" ] || bin=$RDBSYNC
if [ ! -f "$page" ]; then fail man.page "no rdbsync.1"; exit 0; fi

# The page as text, one line per paragraph (no wrapping, no hyphenation).
render() { MANWIDTH=1000 LC_ALL=C man -l "$1" 2>"$IT_TMP/man.err" | sed 's/.\x08//g'; }

if ! command -v man >/dev/null 2>&1; then
    skip man.render "man is not installed (apt-get install man-db)"
    exit 0
fi
text=$(render "$page")
missing=
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES; do
    grep -q "^$s\$" <<<"$text" || missing+=" $s"
done
assert_eq man.render.sections "" "$missing"
assert_eq man.render.stderr "" "$(cat "$IT_TMP/man.err")"
if command -v groff >/dev/null 2>&1; then
    assert_eq man.render.groff_warnings "" "$(groff -man -ww -z "$page" 2>&1)"
fi

# Flags as --help prints them: at the start of an option line, or after a
# space, comma, slash or bar (not "redis-cli" or "tls-auth-clients").
if [ -x "$bin" ]; then
    flags=$("$bin" --help | grep -oE '(^|[ ,/(|])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[ ,/(|]//' | sort -u)
    [ -n "$flags" ] || fail man.flags "no flags found in --help"
    for f in $flags; do
        if grep -qE -- "(^|[^a-zA-Z0-9-])$f([^a-zA-Z0-9-]|\$)" <<<"$text"; then pass "man.flag $f"
        else fail "man.flag $f" "printed by --help, not in rdbsync.1"; fi
    done
else
    skip man.flags "no rdbsync binary"
fi

# Exit statuses: the README's table against the page's EXIT STATUS section.
exits=$(sed -n '/^## Exit status/,/^## /p' "$ROOT/README.md" | grep -oE '^\| [0-9]+ \|' | tr -dc '0-9\n')
section=$(sed -n '/^EXIT STATUS$/,/^[A-Z]/p' <<<"$text")
for e in $exits; do
    if grep -qE "^ +$e\$|^ +$e +" <<<"$section"; then pass "man.exit $e"
    else fail "man.exit $e" "in the README's table, not under EXIT STATUS"; fi
done

# make install / uninstall into a temporary prefix.
prefix=$IT_TMP/prefix
if make -s -C "$ROOT" install PREFIX="$prefix" >"$IT_TMP/install.out" 2>&1; then
    assert_eq man.install.files "rdbsync rdbsync.1" \
        "$(cd "$prefix" && ls bin/rdbsync share/man/man1/rdbsync.1 2>/dev/null | xargs -n1 basename | tr '\n' ' ' | sed 's/ $//')"
    assert_eq man.install.runs "$("$bin" --version)" "$("$prefix/bin/rdbsync" --version 2>&1)"
    assert_match man.install.found "^RDBSYNC\\(1\\)" "$(MANWIDTH=200 LC_ALL=C man -M "$prefix/share/man" rdbsync 2>&1 | head -n 1)"
    make -s -C "$ROOT" uninstall PREFIX="$prefix" >>"$IT_TMP/install.out" 2>&1
    assert_eq man.uninstall "" "$(find "$prefix" -type f)"
else
    fail man.install "make install failed: $(it_show "$(tail -n 3 "$IT_TMP/install.out")")"
fi
