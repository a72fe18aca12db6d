#!/usr/bin/env bash
# docs/server.md's settings table and `logshared --help` (printed from
# the key table in src/server/config/server_config.c) name the same keys
# with the same flags, environment variables and defaults, so neither
# can drift from the code again; and each numeric key really is read
# from its flag, its variable and its INI line (a bad value there stops
# the server, exit 2, naming it as given).
source "$LOGSHARE_TEST_LIB/testlib.sh"
source "$LOGSHARE_SOURCE_DIR/tests/server/srvlib.sh"
DATA=$TEST_TMP/data
DOC="$LOGSHARE_SOURCE_DIR/docs/server.md"

assert_exit 0 "--help" -- "$LOGSHARED_BIN" --help
# "  --flag   [section] help (default X)": section.key|flag|default
sed -nE 's/^  (--[a-z0-9-]+) +\[([a-z]+)\] (.*)$/\2|\1|\3/p' "$TEST_TMP/out" |
  while IFS='|' read -r sec flag rest; do
    key=${flag#--}; case $sec in auth | tracker) key=${key#"$sec"-} ;; esac
    def='(unset)'
    if [[ $rest =~ \(default\ ([^\)]*)\)$ ]]; then def=${BASH_REMATCH[1]}; fi
    printf '%s.%s|%s|%s\n' "$sec" "${key//-/_}" "$flag" "$def"
  done | sort >"$TEST_TMP/help.keys"
[ "$(wc -l <"$TEST_TMP/help.keys")" -ge 40 ] || fail "--help lists too few settings: $(cat "$TEST_TMP/out")"

# "| `[section] key` | `--flag` or `--flag / --auth-flag` | `ENV` | `default` | meaning |"
grep -E '^\| `\[[a-z]+\] [a-z_]+` \|' "$DOC" |
  while IFS='|' read -r _ key flags env def _; do
    key=$(tr -d '`[' <<<"$key" | sed -E 's/^ *([a-z]+)\] ([a-z_]+) *$/\1.\2/')
    flags=$(tr -d '` ' <<<"$flags"); env=$(tr -d '` ' <<<"$env"); def=$(sed -E 's/^ *`(.*)` *$/\1/' <<<"$def")
    want_env=LOGSHARE_$(tr 'a-z.' 'A-Z_' <<<"$key")
    [ "$env" = "$want_env" ] || { echo "docs/server.md: $key has env $env, the server reads $want_env"; continue; }
    # the documented flag that --help prints: the auth- form when both are given
    printf '%s|%s|%s\n' "$key" "${flags##*/}" "$def"
  done | sort >"$TEST_TMP/doc.keys"
if grep -q '^docs/server.md:' "$TEST_TMP/doc.keys"; then fail "$(grep '^docs' "$TEST_TMP/doc.keys")"; fi
diff -u "$TEST_TMP/help.keys" "$TEST_TMP/doc.keys" >"$TEST_TMP/diff" ||
  fail "docs/server.md's settings (+) differ from logshared --help (-): $(cat "$TEST_TMP/diff")"
pass "docs/server.md and --help list the same $(wc -l <"$TEST_TMP/help.keys") settings, flags, variables and defaults"

# Every numeric setting is read from all three places under the
# documented names: "x" is refused, naming the flag, the variable or the
# file line. (The server stops before opening anything.)
n=0
while IFS='|' read -r key flag def; do
  [[ $def =~ ^[0-9]+$ ]] || continue
  sec=${key%%.*}; name=${key#*.}
  env=LOGSHARE_$(tr 'a-z.' 'A-Z_' <<<"$key")
  assert_exit 2 "$flag x" -- timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0 "$flag" x
  assert_contains "$(cat "$TEST_TMP/err")" "$flag 'x'" "$flag x: message"
  assert_exit 2 "$env=x" -- env "$env=x" timeout 10 "$LOGSHARED_BIN" --data-dir "$DATA" --listen 127.0.0.1:0
  assert_contains "$(cat "$TEST_TMP/err")" "$env='x'" "$env=x: message"
  printf '[%s]\n%s = x\n' "$sec" "$name" >"$TEST_TMP/c.ini"
  assert_exit 2 "[$sec] $name = x" -- timeout 10 "$LOGSHARED_BIN" --config "$TEST_TMP/c.ini" --data-dir "$DATA" --listen 127.0.0.1:0
  assert_contains "$(cat "$TEST_TMP/err")" "c.ini:2:" "[$sec] $name = x: message"
  n=$((n + 1))
done <"$TEST_TMP/help.keys"
[ "$n" -ge 30 ] || fail "only $n numeric settings checked"
pass "$n numeric settings are read from their flag, variable and INI key"
[ -e "$DATA" ] && fail "a refused setting still created $DATA"
pass "docs_settings"
