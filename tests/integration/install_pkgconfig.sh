#!/usr/bin/env bash
# `make install` contract: the header, both libraries and logshare.pc land
# under the prefix, and a program builds against them with pkg-config
# alone, statically and dynamically.
source "$LOGSHARE_TEST_LIB/testlib.sh"

prefix="$TEST_TMP/inst"
cmake --install "$LOGSHARE_BUILD_DIR" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name logshare.pc | head -1)")
[ -n "$pcdir" ] || fail "logshare.pc not installed"
[ -f "$prefix/include/logshare.h" ] || fail "logshare.h not installed"

cat > "$TEST_TMP/app.c" <<'C'
#include <logshare.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    if (strcmp(logshare_version(), LOGSHARE_VERSION_STRING) != 0)
        return 1;
    puts(logshare_error_name(LOGSHARE_ECORRUPT));
    return 0;
}
C
# A sanitized build installs an instrumented library: the app must be too.
san=""; [ "${LOGSHARE_SANITIZED:-0}" = 1 ] && san="-fsanitize=address,undefined"
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs logshare)
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir logshare)
cc -std=c17 -Wall -Werror $san "$TEST_TMP/app.c" $flags -Wl,-rpath,"$libdir" -o "$TEST_TMP/app-shared"
assert_eq corrupt "$("$TEST_TMP/app-shared")" "program linked to the shared library"

# Static: liblogshare.a, with its dependencies linked as shared libraries
# (Debian ships few of curl's dependencies as static archives).
private=$(PKG_CONFIG_PATH="$pcdir" pkg-config --print-requires-private logshare | awk '{print $1}')
cc -std=c17 -Wall -Werror $san "$TEST_TMP/app.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags logshare) \
   "$libdir/liblogshare.a" $(pkg-config --libs $private) -lpthread -o "$TEST_TMP/app-static"
assert_eq corrupt "$("$TEST_TMP/app-static")" "program linked to the static library"

# The archive exports the public API only, like the shared library: every
# defined global symbol is logshare_*, so an app's own names cannot clash.
leaked=$(nm -g --defined-only "$libdir/liblogshare.a" | awk 'NF == 3 && $3 !~ /^logshare_/ {print $3}')
[ -z "$leaked" ] || fail "liblogshare.a defines non-logshare_ globals: $(echo $leaked | head -c 400)"
[ -n "$(nm -g --defined-only "$libdir/liblogshare.a" | awk '$3 == "logshare_report"')" ] ||
  fail "liblogshare.a lacks logshare_report"
# an app with functions named like the library's internals links and runs
cat > "$TEST_TMP/clash.c" <<'C'
#include <logshare.h>
#include <stdio.h>
int outbox_queue(void) { return 1; }
int retry_classify(void) { return 2; }
int share_string_set(void) { return 3; }
int ls_buf_free(void) { return 4; }
int main(void)
{
    logshare_share_options *o = logshare_share_options_new(); /* pulls in the sharing code */
    logshare_share_options_free(o);
    printf("%d\n", outbox_queue() + retry_classify() + share_string_set() + ls_buf_free());
    return 0;
}
C
cc -std=c17 -Wall -Werror $san "$TEST_TMP/clash.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags logshare) \
   "$libdir/liblogshare.a" $(pkg-config --libs $private) -lpthread -o "$TEST_TMP/app-clash" 2>"$TEST_TMP/clash.err" ||
  fail "an app with its own outbox_queue/ls_buf_free does not link: $(head -5 "$TEST_TMP/clash.err")"
assert_eq 10 "$("$TEST_TMP/app-clash")" "the app's own functions are the ones called"
# LOGSHARE_LOG in an app built with strict warnings, in C11 (arguments
# widened at the call site) and C99 (the va_arg path), and in C++ when a
# compiler is there: it builds without a warning and every record is kept.
cat > "$TEST_TMP/logapp.c" <<'C'
#include <logshare.h>
#include <stdio.h>
#include <stdlib.h>
struct bits { unsigned u : 3; };
int main(int argc, char **argv)
{
    logshare_options *o = logshare_options_new();
    logshare *ls = NULL;
    char call[16] = "call-1";
    struct bits b = {5};
    float f = 1.5f;
    unsigned long long big = 18446744073709551615ull;
    short sh = -3;
    unsigned char uc = 250;
    char ch = 'Z';
    int rc = 0, i, k = 0;
    if (argc < 2 || !o || logshare_options_set_dir(o, argv[1]) != 0 ||
        logshare_options_set_plaintext(o, 1) != 0 || logshare_open(o, &ls) != 0)
        return 1;
    logshare_options_free(o);
    for (i = 0; i < 100; i++) {
        rc |= LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "call %s seq %d bits %u f %.1f big %llu %p",
                           call, i, b.u, (double)f, big, (void *)call);
        rc |= LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "no arguments");
        rc |= LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "null %p", (void *)NULL);
        rc |= LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "small %hd %hhu %c k %d", sh, uc, ch, k++);
    }
    logshare_close(ls);
    if (k != 100)
        return 2; /* each argument evaluated once */
    printf("%d\n", rc);
    return rc;
}
C
strict="-Wall -Wextra -Wpedantic -Wshadow -Wdeclaration-after-statement -Wstrict-prototypes -Werror"
for std in c11 c99; do
  cc -std=$std $strict $san "$TEST_TMP/logapp.c" $flags -Wl,-rpath,"$libdir" -o "$TEST_TMP/logapp-$std" \
    2>"$TEST_TMP/logapp.err" || fail "LOGSHARE_LOG does not build with -std=$std and strict warnings: $(head -5 "$TEST_TMP/logapp.err")"
  mkdir -p "$TEST_TMP/logs-$std"
  assert_eq 0 "$("$TEST_TMP/logapp-$std" "$TEST_TMP/logs-$std")" "every LOGSHARE_LOG call succeeds (-std=$std)"
  n=$("$LOGSHARE_BIN" decrypt "$TEST_TMP/logs-$std"/*.lslog 2>/dev/null | grep -c 'call call-1 seq .* bits 5 f 1.5 big 18446744073709551615 0x')
  assert_eq 100 "$n" "the records read back as printf would print them (-std=$std)"
  n=$("$LOGSHARE_BIN" decrypt "$TEST_TMP/logs-$std"/*.lslog 2>/dev/null | grep -c 'null (nil)$')
  assert_eq 100 "$n" "NULL for %p reads back as (nil) (-std=$std)"
  n=$("$LOGSHARE_BIN" decrypt "$TEST_TMP/logs-$std"/*.lslog 2>/dev/null | grep -c 'small -3 250 Z k [0-9]*$')
  assert_eq 100 "$n" "%hd %hhu %c read back as printf prints them (-std=$std)"
done
# The compiler still checks the format against the arguments as written
# (a wrong type is an error under -Werror), with gcc and with clang.
cat > "$TEST_TMP/wrong.c" <<'C'
#include <logshare.h>
int wrong(logshare *ls) { return LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "n %d", "a string"); }
C
for c in cc clang; do
  command -v $c >/dev/null || continue
  if $c -std=c11 -Wall -Werror -c "$TEST_TMP/wrong.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags logshare) \
       -o "$TEST_TMP/wrong.o" 2>"$TEST_TMP/wrong.err"; then
    fail "$c built LOGSHARE_LOG with a string for %d: the format is not checked"
  fi
  grep -q "format" "$TEST_TMP/wrong.err" || fail "$c refused it, but not for the format: $(head -3 "$TEST_TMP/wrong.err")"
done
# clang warns about things gcc does not (arithmetic on NULL once came from
# the macro itself; "%hd" checked against the macro's promoted copy of a
# short was an error): the same app must build clean with it too.
if command -v clang >/dev/null; then
  clang -std=c11 $strict -c "$TEST_TMP/logapp.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags logshare) \
    -o "$TEST_TMP/logapp-clang.o" 2>"$TEST_TMP/logapp.err" ||
    fail "LOGSHARE_LOG does not compile with clang and strict warnings: $(head -5 "$TEST_TMP/logapp.err")"
fi
if command -v c++ >/dev/null; then
  cp "$TEST_TMP/logapp.c" "$TEST_TMP/logapp.cpp"
  c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror $san "$TEST_TMP/logapp.cpp" $flags -Wl,-rpath,"$libdir" \
    -o "$TEST_TMP/logapp-cxx" 2>"$TEST_TMP/logapp.err" ||
    fail "LOGSHARE_LOG does not build as C++: $(head -5 "$TEST_TMP/logapp.err")"
fi
pass "install and pkg-config; liblogshare.a exports logshare_* only; LOGSHARE_LOG builds clean in C11, C99 and C++"
