#!/usr/bin/env bash
# store_cli.sh - the log store through the CLI, as SPEC.md describes it:
# keygen, log, files, decrypt (text and JSON), torn tails, tampering,
# wrong keys, usage errors, and the quota under repeated kill -9.
source "$LOGSHARE_TEST_LIB/testlib.sh"
L=$LOGSHARE_BIN
cd "$TEST_TMP"

# keygen: two files, the secret one private, never overwritten.
assert_exit 0 "keygen" -- "$L" keygen --out k
assert_contains "$(cat "$TEST_TMP/out")" "logshare-pk-1:" "keygen prints the public key"
assert_eq "600" "$(stat -c %a k.key)" "secret key mode"
assert_eq "$(cat k.pub)" "$(cat "$TEST_TMP/out")" "printed key is PREFIX.pub"
assert_exit 1 "keygen refuses to overwrite" -- "$L" keygen --out k
assert_exit 2 "keygen without --out" -- "$L" keygen
assert_exit 2 "keygen --out ''" -- "$L" keygen --out ""
mkdir -p kd
assert_exit 2 "keygen --out DIR/" -- "$L" keygen --out kd/
assert_contains "$(cat "$TEST_TMP/err")" "ends in '/'" "a directory prefix is refused"
[ -e kd/.key ] && fail "keygen --out kd/ wrote kd/.key"
assert_exit 2 "keygen with a too long name" -- "$L" keygen --out "$(printf 'x%.0s' $(seq 300))"
assert_contains "$(cat "$TEST_TMP/err")" "too long" "a too long name is named"
# Two keygens at the same moment: one wins, nothing is overwritten, and
# the pair on disk is the winner's (its public key fits its secret key).
for i in 1 2 3 4 5 6 7 8; do
  "$L" keygen --out race$i >race$i.a 2>/dev/null & pa=$!
  "$L" keygen --out race$i >race$i.b 2>/dev/null & pb=$!
  ra=0; wait $pa || ra=$?; rb=0; wait $pb || rb=$?
  [ $((ra + rb)) -eq 1 ] || fail "race $i: exits $ra and $rb, want exactly one success"
  if [ $ra -eq 0 ]; then w=race$i.a; else w=race$i.b; fi
  assert_eq "$(cat "$w")" "$(cat race$i.pub)" "race $i: PREFIX.pub is the winner's"
done
for i in 1 2 3 4 5 6 7 8; do
  echo "race $i" | "$L" log --dir racelog$i --public-key-file race$i.pub
  assert_exit 0 "race $i: the key pair fits" -- "$L" decrypt --key race$i.key racelog$i/*.lslog
done
assert_exit 0 "keygen --help" -- "$L" keygen --help
"$L" keygen --out other >/dev/null
pass "keygen"

# log + files + decrypt round trip, two streams.
seq 1 300 | sed 's/^/calling line /' | "$L" log --dir store --stream calling --public-key-file k.pub
printf 'media one\nmedia two\n' | "$L" log --dir store --stream media --level warn --public-key-file k.pub
"$L" files --dir store >files.txt
assert_eq 2 "$(wc -l <files.txt)" "files lists one file per open"
assert_contains "$(cat files.txt)" "calling" "files shows the stream"
"$L" files --dir store/ | grep -q '//' && fail "files --dir DIR/ prints DIR//NAME"
# A store whose directory name holds a tab, a line break and a backslash:
# still one line per file with five fields, the name shown escaped.
odd=$'odd\tdir\nx\\y'
echo "one line" | "$L" log --dir "$odd" --plaintext
"$L" files --dir "$odd" >odd.txt
assert_eq 1 "$(wc -l <odd.txt)" "files: one line for the one file of an oddly named store"
assert_eq 5 "$(awk -F'\t' '{print NF}' odd.txt)" "files: five tab-separated fields"
case "$(cut -f1 odd.txt)" in *'odd\tdir\nx\\y/main.'*) ;; *) fail "files: the path is not shown escaped: $(cut -f1 odd.txt)" ;; esac
"$L" files --dir store --json >files.json
node -e '
const a = JSON.parse(require("fs").readFileSync("files.json", "utf8"));
if (!(a.length === 2 && a[0].stream === "calling" && a[0].size > 0 && a[0].first_time.endsWith("Z")))
  process.exit(1);' || fail "files --json: $(cat files.json)"
"$L" decrypt --key k.key store/*.lslog >out.txt
assert_eq 302 "$(wc -l <out.txt)" "decrypt prints every record"
assert_contains "$(sed -n 1p out.txt)" " info calling calling line 1" "first record"
assert_contains "$(cat out.txt)" " warn media media two" "level and stream"
head -1 out.txt | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z info calling calling line 1$' || fail "line format: $(head -1 out.txt)"
"$L" decrypt --key k.key --json store/*.lslog >out.json
node -e '
const rows = require("fs").readFileSync("out.json", "utf8").trim().split("\n").map(JSON.parse);
const keys = Object.keys(rows[0]).sort().join(",");
if (rows.length !== 302 || keys !== "level,message,stream,time" || rows[0].message !== "calling line 1")
  process.exit(1);' || fail "decrypt --json"
pass "log, files, decrypt"

# A foreign key, no key, a missing file: exit 1, nothing printed.
assert_exit 1 "wrong key" -- "$L" decrypt --key other.key store/*.lslog
assert_eq 0 "$(wc -c <"$TEST_TMP/out")" "nothing printed with the wrong key"
assert_contains "$(cat "$TEST_TMP/err")" "key does not fit" "wrong key message"
assert_exit 1 "no key" -- "$L" decrypt store/*.lslog
assert_exit 1 "missing file" -- "$L" decrypt --key k.key nope.lslog
assert_exit 1 "malformed public key" -- sh -c "echo hi | '$L' log --dir s2 --public-key-file k.key"
assert_contains "$(cat "$TEST_TMP/err")" "key" "bad public key is named"
# Well-formed but a low-order point (all zeros): refused at open, not
# accepted and then every record lost.
echo "logshare-pk-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" >zero.pub
assert_exit 1 "all-zero public key" -- sh -c "echo hi | '$L' log --dir s3 --public-key-file zero.pub"
assert_contains "$(cat "$TEST_TMP/err")" "key" "all-zero public key is named"
[ -z "$(ls s3/*.lslog 2>/dev/null)" ] || fail "a store was opened with an all-zero key"
# A directory where a key file belongs: named as a bad argument, not as
# a failing disk.
mkdir -p keydir
assert_exit 1 "public key file is a directory" -- sh -c "echo hi | '$L' log --dir s4 --public-key-file keydir"
assert_contains "$(cat "$TEST_TMP/err")" "invalid argument" "directory as key file"
assert_exit 1 "secret key file is a directory" -- "$L" decrypt --key keydir store/*.lslog
assert_contains "$(cat "$TEST_TMP/err")" "invalid argument" "directory as secret key"
pass "keys"

# Torn tail: every complete record, a warning, exit 0.
f=$(ls store/calling.*.lslog)
size=$(stat -c %s "$f")
head -c $((size - 30)) "$f" >torn.lslog
assert_exit 0 "torn tail" -- "$L" decrypt --key k.key torn.lslog
assert_contains "$(cat "$TEST_TMP/err")" "torn tail" "torn tail warning"
assert_contains "$(cat "$TEST_TMP/err")" "still being written" "a live file is named as a cause of a torn tail"
head -c 20 "$f" >hdr.lslog
assert_exit 0 "cut inside the header" -- "$L" decrypt --key k.key hdr.lslog
assert_contains "$(cat "$TEST_TMP/err")" "torn tail" "header-only torn tail warns"
# A zero-filled tail (a power loss on some file systems): torn, not tampered.
{ head -c $((size - 30)) "$f"; head -c 4096 /dev/zero; } >zeros.lslog
assert_exit 0 "zero-filled tail" -- "$L" decrypt --key k.key zeros.lslog
assert_contains "$(cat "$TEST_TMP/err")" "torn tail" "zero-filled tail warns as torn"
"$L" decrypt --key k.key torn.lslog 2>/dev/null >torn.txt
assert_eq "$(cat torn.txt)" "$(cat "$TEST_TMP/out")" "zero-filled tail prints the complete records"
# Tampered: one byte changed in the middle: exit 1, nothing from that frame on.
cp "$f" bad.lslog
mid=$((size / 2))
byte=$(od -An -tu1 -j "$mid" -N1 bad.lslog | tr -d ' ')
printf "\\$(printf %o $((byte ^ 64)))" | dd of=bad.lslog bs=1 seek="$mid" conv=notrunc status=none
cmp -s "$f" bad.lslog && fail "the byte was not changed"
assert_exit 1 "tampered" -- "$L" decrypt --key k.key bad.lslog
assert_contains "$(cat "$TEST_TMP/err")" "failed authentication" "tamper message"
pass "torn and tampered"

# Plaintext mode: readable without a key.
echo "dev only" | "$L" log --dir plain --plaintext
assert_exit 0 "plaintext decrypt without key" -- "$L" decrypt plain/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" "info main dev only" "plaintext record"
printf 'bad \xff\xfe byte\n' | "$L" log --dir u8 --plaintext
assert_exit 0 "non-UTF-8 message as JSON" -- "$L" decrypt --json u8/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" '"bad \uFFFD\uFFFD byte"' "invalid bytes shown as U+FFFD, record kept"
# Control characters from a log never reach the terminal raw.
printf 'red \033[31mALERT\033[0m bell\a back\b del\177 tab\there csi \302\233x\n' | "$L" log --dir ctl --plaintext
assert_exit 0 "decrypt with control characters" -- "$L" decrypt ctl/*.lslog
LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$TEST_TMP/out" && fail "raw control characters printed: $(od -c "$TEST_TMP/out" | head)"
assert_contains "$(cat "$TEST_TMP/out")" 'red \x1b[31mALERT\x1b[0m bell\x07 back\x08 del\x7f' "controls escaped as \\xNN"
assert_contains "$(cat "$TEST_TMP/out")" "$(printf 'tab\there')" "tab kept"
assert_contains "$(cat "$TEST_TMP/out")" 'csi \xc2\x9bx' "UTF-8 C1 control escaped"
assert_exit 0 "decrypt --json with control characters" -- "$L" decrypt --json ctl/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" 'red \u001B[31mALERT' "JSON escapes them too"
LC_ALL=C grep -q "$(printf '[\001-\037\177]')" "$TEST_TMP/out" && fail "raw control characters in JSON"
assert_contains "$(cat "$TEST_TMP/out")" 'del\u007F tab\there csi \u009Bx' "JSON escapes DEL and C1"
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (!r.message.includes("del\x7f tab\there")) process.exit(1);' "$TEST_TMP/out" || fail "JSON message round-trips"
pass "plaintext"
# A backslash and bytes that are not UTF-8 are escaped too, so every
# escape reads one way and a raw 0x9b (CSI to 8-bit terminals) never
# reaches the terminal.
printf 'typed \\n here raw \233[31m end\n' | "$L" log --dir bs --plaintext
assert_exit 0 "decrypt with a backslash and a raw C1 byte" -- "$L" decrypt bs/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" 'typed \\n here raw \x9b[31m end' "backslash doubled, raw byte as \\xNN"
LC_ALL=C grep -q "$(printf '\233')" "$TEST_TMP/out" && fail "raw 0x9b printed"
# A NUL inside a line: the rest of the line is kept (U+FFFD), with a warning.
printf 'before\0after\n' | "$L" log --dir nul --plaintext 2>nul.err
assert_contains "$(cat nul.err)" "NUL" "NUL warned about"
assert_exit 0 "decrypt a line with a NUL" -- "$L" decrypt nul/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" "$(printf 'before\357\277\275after')" "the line after the NUL is kept"
# A line over 4000 bytes is cut there, visibly, and said so on stderr
# (exit 0: the line is kept, as much as a record holds); one of exactly
# 4000 bytes is whole and not warned about.
{ head -c 4000 /dev/zero | tr '\0' a; echo; head -c 5000 /dev/zero | tr '\0' b; echo; } >long.txt
assert_exit 0 "log a long line" -- "$L" log --dir long --plaintext <long.txt
assert_contains "$(cat "$TEST_TMP/err")" "1 line(s) longer than 4000 bytes were cut" "a cut line is warned about"
assert_exit 0 "decrypt the long lines" -- "$L" decrypt long/*.lslog
assert_eq "4000 4014" "$(awk '{print length($4)}' "$TEST_TMP/out" | tr '\n' ' ' | sed 's/ $//')" "the 4000-byte line whole, the long one cut"
assert_contains "$(cat "$TEST_TMP/out")" "bbb...[truncated]" "the cut is visible"
head -c 4000 /dev/zero | tr '\0' c | "$L" log --dir long4k --plaintext 2>long4k.err
[ -s long4k.err ] && fail "a 4000-byte line was warned about: $(cat long4k.err)"
# Lines the disk refuses (a file size limit plays the full disk): exit 1,
# and the reason named is the disk's, even though the few lines that
# came last were written (that write cleared the store's last error,
# and the lost lines used to be blamed on a full buffer).
( ulimit -f 8; trap '' XFSZ
  { head -c 450000 /dev/urandom | base64; sleep 1.5; echo short1; echo short2; } |
    "$L" log --dir fsize --plaintext 2>fsize.err && echo 0 >fsize.rc || echo $? >fsize.rc )
assert_eq 1 "$(cat fsize.rc)" "log exits 1 when the disk refused lines"
assert_contains "$(cat fsize.err)" "line(s) were not written to fsize: exceeds a configured limit" "the disk's reason is named"
grep -q "buffer full" fsize.err && fail "lines the disk refused were blamed on a full buffer: $(cat fsize.err)"
assert_exit 0 "decrypt what fit" -- "$L" decrypt fsize/*.lslog
assert_contains "$(cat "$TEST_TMP/out")" "info main short2" "the lines after the loss were written"
# From a pipe; a directory; a file given as --dir; an extra argument.
cat plain/*.lslog | "$L" decrypt /dev/stdin >piped.txt || fail "decrypt /dev/stdin"
assert_contains "$(cat piped.txt)" "info main dev only" "a log read from a pipe"
assert_exit 1 "decrypt a directory" -- "$L" decrypt plain
assert_contains "$(cat "$TEST_TMP/err")" "is a directory" "a directory is named as such"
touch afile
assert_exit 1 "log into a regular file" -- sh -c "echo x | '$L' log --dir afile --plaintext"
assert_contains "$(cat "$TEST_TMP/err")" "not a directory" "a file as --dir is named as such"
assert_exit 2 "log with an extra argument" -- sh -c "echo x | '$L' log --dir ex --plaintext extra"
assert_contains "$(cat "$TEST_TMP/err")" "unexpected argument 'extra'" "the extra argument is named"

# Usage errors.
assert_exit 2 "log without key choice" -- "$L" log --dir x
assert_exit 2 "log with both" -- "$L" log --dir x --plaintext --public-key-file k.pub
assert_exit 2 "bad level" -- "$L" log --dir x --plaintext --level loud
assert_exit 2 "bad number" -- "$L" log --dir x --plaintext --max-file-bytes 12abc
for v in " 40000" "+40000" "-40000" "0x9000" ""; do
  assert_exit 2 "number '$v'" -- "$L" log --dir x --plaintext --max-file-bytes "$v"
done
assert_exit 2 "overflowing number" -- "$L" log --dir x --plaintext --max-total-bytes 99999999999999999999999
assert_contains "$(cat "$TEST_TMP/err")" "at most 18446744073709551615" "the limit is named"
assert_exit 2 "too many days" -- "$L" log --dir x --plaintext --max-age-days 36501
assert_contains "$(cat "$TEST_TMP/err")" "at most 36500" "the day limit is named"
assert_exit 2 "too small" -- "$L" log --dir x --plaintext --max-file-bytes 100
assert_contains "$(cat "$TEST_TMP/err")" "at least 32768" "the minimum is named"
[ ! -e x ] || fail "a store was made by a refused command"
assert_exit 2 "bad stream" -- "$L" log --dir x --plaintext --stream 'A B'
assert_exit 2 "decrypt without files" -- "$L" decrypt --key k.key
assert_exit 2 "files without dir" -- "$L" files
assert_exit 1 "files of a missing dir" -- "$L" files --dir nowhere
# Two processes on one store directory: the second is refused (one
# clear line, exit 1) while the first has it open, and opens it after.
mkfifo busy.fifo
"$L" log --dir busy --plaintext <busy.fifo & busy_pid=$!
exec 3>busy.fifo
# Its first file exists once it holds the lock (probing the lock itself
# could take it from under the opening process).
for i in $(seq 1 100); do
  compgen -G 'busy/main.*.lslog' >/dev/null && break
  sleep 0.05
done
flock -n busy/.lock true && fail "the first logshare log did not lock the store"
echo second | "$L" log --dir busy --plaintext 2>busy.err && fail "a second process opened a store in use"
assert_contains "$(cat busy.err)" "cannot open the store in busy: resource busy" "the second process is told why"
echo first >&3
exec 3>&-
wait $busy_pid || fail "the first logshare log failed"
echo third | "$L" log --dir busy --plaintext || fail "the store did not open once the first process was done"
assert_exit 0 "decrypt the busy store" -- "$L" decrypt busy/*.lslog
assert_eq "first third" "$(awk '{print $4}' "$TEST_TMP/out" | tr '\n' ' ' | sed 's/ $//')" "only the lines of the processes that had the store"
assert_exit 1 "files of a file given as dir" -- "$L" files --dir k.pub
assert_contains "$(cat "$TEST_TMP/err")" "k.pub is not a directory" "files names a file given as --dir"
# A directory name that is not UTF-8: JSON cannot hold it, so --json
# fails and says so (it printed [] with exit 0); the text output lists it.
badutf=$(printf 'bad\377dir')
echo x | "$L" log --dir "$badutf" --plaintext
assert_exit 1 "files --json of a non-UTF-8 dir" -- "$L" files --dir "$badutf" --json
assert_contains "$(cat "$TEST_TMP/err")" "is not UTF-8" "files --json says why"
assert_exit 0 "files of a non-UTF-8 dir" -- "$L" files --dir "$badutf"
assert_eq 1 "$(wc -l <"$TEST_TMP/out")" "the text output lists the file"
assert_exit 2 "files with an extra argument" -- "$L" files --dir store extra
assert_contains "$(cat "$TEST_TMP/err")" "unexpected argument 'extra'" "files names the extra argument"
for c in log files decrypt; do assert_exit 0 "$c --help" -- "$L" $c --help; done
pass "usage"

# The quota holds while the writer is killed over and over.
max=$((96 * 1024))
gen() { od -An -tx1 -w48 -v /dev/urandom | tr -d ' ' 2>/dev/null; }
for i in $(seq 1 12); do
  ( gen | "$L" log --dir kill --public-key-file k.pub --max-file-bytes 32768 --max-total-bytes $max ) &
  sleep 0.$((RANDOM % 4 + 1))
  pkill -KILL -P $! -x logshare 2>/dev/null || true
  wait $! 2>/dev/null || true
  total=$(find kill -maxdepth 1 -name '*.lslog' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  [ "$total" -le "$max" ] || fail "quota: $total > $max after kill $i"
done
[ -n "$(ls kill/*.lslog)" ] || fail "no files after the kill loop"
# The quota really worked: the oldest files (seq 1, ...) are gone.
[ ! -e kill/main.0000000001.lslog ] || fail "the quota never deleted anything"
# Every file is readable: complete frames decrypt, torn tails only warn.
assert_exit 0 "decrypt after kills" -- "$L" decrypt --key k.key kill/*.lslog
[ "$(wc -l <"$TEST_TMP/out")" -gt 0 ] || fail "records survive kill -9"
pass "quota under kill -9"
