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
pass "install and pkg-config"
