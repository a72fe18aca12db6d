#!/usr/bin/env bash
# The CLI's contract: --help and --version succeed, usage errors exit 2
# with one line on stderr.
source "$LOGSHARE_TEST_LIB/testlib.sh"

assert_exit 0 "--version" -- "$LOGSHARE_BIN" --version
assert_contains "$(cat "$TEST_TMP/out")" "logshare " "--version output"
assert_exit 0 "--help" -- "$LOGSHARE_BIN" --help
assert_contains "$(cat "$TEST_TMP/out")" "usage: logshare" "--help output"
assert_exit 2 "no arguments" -- "$LOGSHARE_BIN"
assert_exit 2 "unknown command" -- "$LOGSHARE_BIN" frobnicate
assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "unknown command error is one line"

# Every subcommand: --help, and usage errors as exit 2 with one line on
# stderr that names the offending word. "opt" is an option taking a value.
for spec in keygen:--out log:--dir files:--dir decrypt:--key export:--dir report:--dir \
            watch:--dir outbox:--dir; do
  cmd=${spec%%:*} opt=${spec#*:}
  assert_exit 0 "$cmd --help" -- "$LOGSHARE_BIN" "$cmd" --help
  assert_contains "$(head -1 "$TEST_TMP/out")" "usage: logshare $cmd" "$cmd --help"
  assert_exit 0 "help $cmd" -- "$LOGSHARE_BIN" help "$cmd"
  assert_contains "$(head -1 "$TEST_TMP/out")" "usage: logshare $cmd" "help $cmd is $cmd --help"
  assert_exit 2 "$cmd unknown option" -- "$LOGSHARE_BIN" "$cmd" --no-such-option
  assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "$cmd unknown option: one line"
  assert_contains "$(cat "$TEST_TMP/err")" "logshare: $cmd: unknown or ambiguous option '--no-such-option'" \
    "$cmd unknown option names it"
  assert_exit 2 "$cmd unknown short option" -- "$LOGSHARE_BIN" "$cmd" -Z
  assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "$cmd unknown short option: one line"
  assert_contains "$(cat "$TEST_TMP/err")" "'-Z'" "$cmd unknown short option names it"
  assert_exit 2 "$cmd missing value" -- "$LOGSHARE_BIN" "$cmd" "$opt"
  assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "$cmd missing value: one line"
  assert_contains "$(cat "$TEST_TMP/err")" "option '$opt' needs a value" "$cmd missing value names it"
  if [ "$cmd" != decrypt ] && [ "$cmd" != log ]; then
    assert_exit 2 "$cmd extra argument" -- "$LOGSHARE_BIN" "$cmd" "$opt" "$TEST_TMP/x" stray-word
    assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "$cmd extra argument: one line"
    assert_contains "$(cat "$TEST_TMP/err")" "'stray-word'" "$cmd extra argument names it"
  fi
done
assert_exit 2 "watch --max-requests overflow" -- "$LOGSHARE_BIN" watch --dir "$TEST_TMP/w" \
  --server http://127.0.0.1:9 --token t --max-requests 99999999999999999999
assert_contains "$(cat "$TEST_TMP/err")" "logshare: watch: --max-requests" "watch count error"

# Output that never reached stdout is a failure, exit 1 with one line,
# in every command (the key pair is still written: only its print failed).
if [ -w /dev/full ]; then
  assert_exit 1 "keygen to a full stdout" -- sh -c '"$1" keygen --out "$2" >/dev/full' _ "$LOGSHARE_BIN" "$TEST_TMP/k"
  assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "full stdout error is one line"
  assert_contains "$(cat "$TEST_TMP/err")" "could not be printed to standard output" "full stdout error"
  assert_contains "$(cat "$TEST_TMP/err")" "k.key and $TEST_TMP/k.pub were written" \
    "keygen says the key pair it wrote"
  assert_exit 1 "--help to a full stdout" -- sh -c '"$1" --help >/dev/full' _ "$LOGSHARE_BIN"
  printf 'one\ntwo\n' | "$LOGSHARE_BIN" log --dir "$TEST_TMP/st" --public-key-file "$TEST_TMP/k.pub" \
    || fail "log"
  assert_exit 1 "files to a full stdout" -- sh -c '"$1" files --dir "$2" >/dev/full' _ "$LOGSHARE_BIN" "$TEST_TMP/st"
  assert_exit 1 "outbox list to a full stdout" -- sh -c '"$1" outbox --dir "$2" >/dev/full' _ "$LOGSHARE_BIN" "$TEST_TMP/st"
  assert_exit 1 "decrypt to a full stdout" -- sh -c '"$1" decrypt --key "$2" "$3"/*.lslog >/dev/full' \
    _ "$LOGSHARE_BIN" "$TEST_TMP/k.key" "$TEST_TMP/st"
  assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "decrypt full stdout error is one line"
fi
# A closed stdout must neither pass for success nor be handed to a file
# the command opens (the public key would land in PREFIX.key).
assert_exit 1 "keygen with stdout closed" -- sh -c '"$1" keygen --out "$2" >&-' _ "$LOGSHARE_BIN" "$TEST_TMP/c"
assert_contains "$(cat "$TEST_TMP/err")" "could not be printed to standard output" "closed stdout error"
"$LOGSHARE_BIN" decrypt --key "$TEST_TMP/c.key" /dev/null 2>/dev/null || fail "c.key was overwritten by the printed public key"
# A closed stdin is a read error for log, not an empty input.
assert_exit 1 "log with stdin closed" -- sh -c '"$1" log --dir "$2" --plaintext <&-' _ "$LOGSHARE_BIN" "$TEST_TMP/st2"
assert_contains "$(cat "$TEST_TMP/err")" "cannot read standard input" "closed stdin error"

# export: a missing output directory is named as such (it read "no log
# store at DIR" for a store that is there); an existing FILE is replaced,
# as --help says.
printf 'one\n' | "$LOGSHARE_BIN" log --dir "$TEST_TMP/ex" --plaintext || fail "log for export"
assert_exit 1 "export into a missing directory" -- "$LOGSHARE_BIN" export --dir "$TEST_TMP/ex" \
  --out "$TEST_TMP/no such dir/logs.zip"
assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "export missing directory: one line"
assert_contains "$(cat "$TEST_TMP/err")" "its directory does not exist" "export missing directory"
echo old > "$TEST_TMP/logs.zip"
assert_exit 0 "export over an existing file" -- "$LOGSHARE_BIN" export --dir "$TEST_TMP/ex" \
  --out "$TEST_TMP/logs.zip"
# (a file, not a pipe into grep -q: under pipefail unzip's SIGPIPE, when
# grep stops reading first, failed the check now and then)
unzip -l "$TEST_TMP/logs.zip" >"$TEST_TMP/listing" || fail "the archive does not list"
grep -q manifest.json "$TEST_TMP/listing" || fail "existing file not replaced by the archive"

# An error is one line whatever the path holds: a newline cannot forge a
# second "logshare:" line, an escape sequence cannot reach the terminal.
assert_exit 1 "decrypt a path with a newline" -- "$LOGSHARE_BIN" decrypt $'no\nlogshare: all good'
assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "newline in a path: one line"
assert_contains "$(cat "$TEST_TMP/err")" 'no\nlogshare: all good' "newline shown as \\n"
assert_exit 1 "decrypt a path with an escape" -- "$LOGSHARE_BIN" decrypt -- $'-\e[31mred\xff'
grep -q $'\e' "$TEST_TMP/err" && fail "an escape sequence reached stderr"
assert_contains "$(cat "$TEST_TMP/err")" '-\x1b[31mred\xff' "escape and bad byte shown as \\xNN"

# outbox on a DIR that is not there is a mistake to name, not an empty
# outbox (nor, with --send, "sent 0" and exit 0).
assert_exit 1 "outbox of a missing store" -- "$LOGSHARE_BIN" outbox --dir "$TEST_TMP/typo"
assert_contains "$(cat "$TEST_TMP/err")" "no log store at $TEST_TMP/typo" "outbox names the missing store"
assert_exit 1 "outbox --send of a missing store" -- "$LOGSHARE_BIN" outbox --dir "$TEST_TMP/typo" \
  --send --server http://127.0.0.1:9 --token t --attempts 1
assert_eq 1 "$(wc -l < "$TEST_TMP/err")" "outbox --send missing store: one line"
assert_exit 0 "outbox of a store with nothing waiting" -- "$LOGSHARE_BIN" outbox --dir "$TEST_TMP/ex"
# export: an empty --dir or --out is a usage error that names it.
assert_exit 2 "export --dir ''" -- "$LOGSHARE_BIN" export --dir "" --out "$TEST_TMP/e.zip"
assert_contains "$(cat "$TEST_TMP/err")" "--dir must not be empty" "export empty --dir named"

pass "cli basics"
