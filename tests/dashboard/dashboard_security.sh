#!/usr/bin/env bash
# dashboard_security.sh - the dashboard's security properties over real
# HTTP (curl) against a real logshared: security headers on pages and
# files, no path escapes from the embedded files, login CSRF defences,
# cookie flags, CSRF tokens required on changes made with the session
# cookie, logout revoking on the server, login attempts rate-limited, and
# the log viewer refusing users and explaining a missing key.
. "$LOGSHARE_TEST_LIB/testlib.sh"

data="$TEST_TMP/data"
printf 'a long enough password\n' | "$LOGSHARED_BIN" user add agent --role support --data-dir "$data" >/dev/null
printf 'victim password 123\n' | "$LOGSHARED_BIN" user add victim --role support --data-dir "$data" >/dev/null
printf 'customer password\n' | "$LOGSHARED_BIN" user add customer --role user --data-dir "$data" >/dev/null
start_server "$data"
user_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user customer-7)
jar="$TEST_TMP/jar"

# header NAME FILE: the value of a response header in a curl -D dump.
header() { grep -i "^$1:" "$2" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'; }
status_of() { head -1 "$1" | cut -d' ' -f2; }

# --- security headers -------------------------------------------------
curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/index.html" "$SERVER_URL/dashboard/"
assert_eq 200 "$(status_of "$TEST_TMP/h")" "GET /dashboard/"
csp=$(header Content-Security-Policy "$TEST_TMP/h")
assert_contains "$csp" "script-src 'self'" "CSP script-src"
assert_contains "$csp" "style-src 'self'" "CSP style-src"
assert_contains "$csp" "frame-ancestors 'none'" "CSP frame-ancestors"
assert_contains "$csp" "default-src 'none'" "CSP default-src"
case "$csp" in *unsafe-inline*|*unsafe-eval*) fail "CSP allows unsafe code: $csp" ;; esac
assert_eq nosniff "$(header X-Content-Type-Options "$TEST_TMP/h")" "X-Content-Type-Options"
assert_eq no-referrer "$(header Referrer-Policy "$TEST_TMP/h")" "Referrer-Policy"
assert_eq DENY "$(header X-Frame-Options "$TEST_TMP/h")" "X-Frame-Options"
grep -q '<script type="module" src="js/app.js">' "$TEST_TMP/index.html" || fail "index.html loads app.js"
if grep -qE '<script>|<style|style=|onclick=|onload=' "$TEST_TMP/index.html"; then fail "index.html has inline code"; fi
pass "pages carry a strict CSP and the other security headers"

curl -s -o /dev/null -D "$TEST_TMP/h" "$SERVER_URL/dashboard/js/app.js"
assert_eq 200 "$(status_of "$TEST_TMP/h")" "GET app.js"
assert_contains "$(header Content-Type "$TEST_TMP/h")" "text/javascript" "app.js type"
etag=$(header ETag "$TEST_TMP/h")
[ -n "$etag" ] || fail "app.js has an ETag"
assert_eq 304 "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$SERVER_URL/dashboard/js/app.js")" "revalidated file"
for p in "/dashboard/../../etc/passwd" "/dashboard/js/..%2f..%2fetc%2fpasswd" "/dashboard/%2e%2e/CMakeLists.txt" "/dashboard/nope.js"; do
  code=$(curl -s --path-as-is -o "$TEST_TMP/body" -w '%{http_code}' "$SERVER_URL$p")
  [ "$code" = 404 ] || [ "$code" = 400 ] || fail "$p: status $code"
  if grep -q 'root:' "$TEST_TMP/body"; then fail "$p escaped the embedded files"; fi
done
assert_eq 302 "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/")" "/ redirects to the dashboard"
pass "embedded files: types, ETag, 304, no path escapes"

# --- login ------------------------------------------------------------
login() { # login USER PASSWORD [extra curl args] -> status
  local u=$1 p=$2; shift 2
  curl -s -o "$TEST_TMP/login.json" -D "$TEST_TMP/login.h" -w '%{http_code}' -c "$jar" \
    -H 'Content-Type: application/json' "$@" \
    --data "{\"username\":\"$u\",\"password\":\"$p\"}" "$SERVER_URL/dashboard/login"
}
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data 'username=agent&password=a+long+enough+password' "$SERVER_URL/dashboard/login")
assert_eq 415 "$code" "a form-encoded (cross-site form) login is refused"
assert_eq 403 "$(login agent 'a long enough password' -H 'Origin: http://evil.example')" "cross-origin login"
assert_eq 401 "$(login agent 'wrong')" "wrong password"
assert_eq 401 "$(login nobody 'a long enough password')" "unknown user"
assert_eq 401 "$(login customer 'customer password')" "a user-role login does not open the dashboard"
assert_eq 200 "$(login agent 'a long enough password' -H "Origin: $SERVER_URL")" "right password"
cookie=$(header Set-Cookie "$TEST_TMP/login.h")
assert_contains "$cookie" "logshare_session=" "session cookie set"
assert_contains "$cookie" "HttpOnly" "cookie HttpOnly"
assert_contains "$cookie" "SameSite=Strict" "cookie SameSite=Strict"
assert_contains "$cookie" "Path=/" "cookie path"
case "$cookie" in *Secure*) fail "Secure on a plain-HTTP cookie would make it unusable: $cookie" ;; esac
csrf=$(sed -n 's/.*"csrf_token":"\([0-9a-f]*\)".*/\1/p' "$TEST_TMP/login.json")
[ ${#csrf} = 64 ] || fail "login returns a CSRF token: $(cat "$TEST_TMP/login.json")"
assert_contains "$(curl -s -b "$jar" "$SERVER_URL/dashboard/session")" '"user":"agent"' "session endpoint"
pass "login: JSON only, same origin, wrong and user-role logins refused, cookie flags"

# --- the API with the session cookie: CSRF on changes ---------------------
form_ticket() {
  curl -s -H "Authorization: Bearer $user_token" -F 'description=printer on fire' -F 'call_id=call-sec-1' \
    "$SERVER_URL/api/v1/tickets" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p; s/.*"id":"\(tk_[^"]*\)".*/\1/p' | head -1
}
tid=$(form_ticket)
[ -n "$tid" ] || fail "ticket created"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$SERVER_URL/api/v1/tickets?call_id=call-sec-1")" "list with the cookie"
patch() { curl -s -o "$TEST_TMP/patch.json" -w '%{http_code}' -b "$jar" -X PATCH -H 'Content-Type: application/json' "$@" \
  --data '{"status":"closed"}' "$SERVER_URL/api/v1/tickets/$tid"; }
assert_eq 401 "$(patch)" "PATCH with the cookie and no CSRF token"
# A token one digit off (never the same digit: that would be the right token).
last=${csrf: -1}; [ "$last" = 0 ] && other=1 || other=0
assert_eq 401 "$(patch -H "X-CSRF-Token: ${csrf%?}$other")" "PATCH with a wrong CSRF token"
assert_eq 401 "$(patch -H "X-CSRF-Token: $csrf" -H 'Origin: http://evil.example')" "PATCH from another origin"
assert_contains "$(curl -s -H "Authorization: Bearer $user_token" "$SERVER_URL/api/v1/tickets/$tid")" '"status":"open"' "refused changes left the ticket as it was"
assert_eq 200 "$(patch -H "X-CSRF-Token: $csrf")" "PATCH with the CSRF token"
assert_contains "$(cat "$TEST_TMP/patch.json")" '"status":"closed"' "the change was made"
pass "changes with the session cookie need the CSRF token and this origin"

# The same for every other change the dashboard makes: a signed link, a
# log request, and an upload (multipart) with the cookie.
printf 'attached bytes\n' >"$TEST_TMP/att.txt"
created=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=with a file' \
  -F "file=@$TEST_TMP/att.txt" "$SERVER_URL/api/v1/tickets")
tid2=$(printf '%s' "$created" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')
aid2=$(printf '%s' "$created" | grep -o '"id":"at_[0-9a-f]*"' | head -1 | cut -d'"' -f4)
[ -n "$tid2" ] && [ -n "$aid2" ] || fail "ticket with a file: $created"
cpost() { # cpost PATH BODY [curl args] -> status (JSON body, session cookie)
  local p=$1 b=$2; shift 2
  curl -s -o "$TEST_TMP/cpost.json" -w '%{http_code}' -b "$jar" -X POST -H 'Content-Type: application/json' "$@" \
    --data "$b" "$SERVER_URL$p"
}
link="/api/v1/tickets/$tid2/attachments/$aid2/link"
assert_eq 401 "$(cpost "$link" '{"expires_in":60}')" "signed link with the cookie and no CSRF token"
assert_eq 401 "$(cpost "$link" '{"expires_in":60}' -H "X-CSRF-Token: ${csrf%?}$other")" "signed link with a wrong token"
assert_eq 201 "$(cpost "$link" '{"expires_in":60}' -H "X-CSRF-Token: $csrf")" "signed link with the token"
lr='{"user_id":"customer-7","reason":"csrf test"}'
assert_eq 401 "$(cpost /api/v1/log-requests "$lr")" "log request with the cookie and no CSRF token"
assert_eq 401 "$(cpost /api/v1/log-requests "$lr" -H "X-CSRF-Token: $csrf" -H 'Origin: http://evil.example')" "log request from another origin"
assert_contains "$(curl -s -H "Authorization: Bearer $user_token" "$SERVER_URL/api/v1/log-requests")" '"log_requests":[]' "refused log requests stored nothing"
assert_eq 201 "$(cpost /api/v1/log-requests "$lr" -H "X-CSRF-Token: $csrf")" "log request with the token"
upload() { curl -s -o "$TEST_TMP/up.json" -w '%{http_code}' -b "$jar" "$@" -F 'description=cookie upload' \
  -F "file=@$TEST_TMP/att.txt" "$SERVER_URL/api/v1/tickets"; }
assert_eq 401 "$(upload)" "a multipart upload with the cookie and no CSRF token"
assert_eq 401 "$(upload -H "X-CSRF-Token: ${csrf%?}$other")" "a multipart upload with a wrong token"
assert_eq 401 "$(upload -H "X-CSRF-Token: $csrf" -H 'Origin: http://evil.example')" "a multipart upload from another origin"
pass "signed links, log requests and cookie uploads need the CSRF token and this origin"

# --- log viewer: users refused; no key explained ---------------------------
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $user_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/at_0123456789ab0123456789abcdef0123/log")
assert_eq 403 "$code" "a user cannot use the log viewer"
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -b "$jar" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/at_0123456789ab0123456789abcdef0123/log")
assert_eq 409 "$code" "no support key configured"
assert_contains "$(cat "$TEST_TMP/log.json")" '"code":"key_not_configured"' "the error says why"
pass "log viewer: support only; a missing key is explained"

# --- logout revokes ---------------------------------------------------------
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -X POST -H 'Content-Type: application/json' --data '{}' "$SERVER_URL/dashboard/logout")" "logout needs the CSRF token"
cp "$jar" "$TEST_TMP/stolen"
code=$(curl -s -o /dev/null -D "$TEST_TMP/out.h" -w '%{http_code}' -b "$jar" -c "$jar" -X POST -H 'Content-Type: application/json' \
  -H "X-CSRF-Token: $csrf" --data '{}' "$SERVER_URL/dashboard/logout")
assert_eq 200 "$code" "logout"
assert_contains "$(header Set-Cookie "$TEST_TMP/out.h")" "Max-Age=0" "logout clears the cookie"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -b "$TEST_TMP/stolen" "$SERVER_URL/dashboard/session")" "a copied cookie is dead after logout"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -b "$TEST_TMP/stolen" "$SERVER_URL/api/v1/tickets")" "the API refuses it too"
pass "logout revokes the session on the server"

# --- login rate limit ---------------------------------------------------------
for i in 1 2 3 4 5; do
  assert_eq 401 "$(login victim "guess-$i")" "guess $i"
done
assert_eq 429 "$(login victim 'guess-6')" "sixth guess for one user name"
retry=$(header Retry-After "$TEST_TMP/login.h")
[ -n "$retry" ] && [ "$retry" -ge 1 ] || fail "429 has Retry-After"
assert_eq 429 "$(login victim 'victim password 123')" "even the right password waits (the limit comes first)"
assert_eq 200 "$(login agent 'a long enough password')" "another user from the same address still logs in"
pass "login attempts are rate-limited per user name, with Retry-After"

# --- expiry: a session ends on the server when its time is up -------------
start_server "$data" --session-max-ttl-s 2
jar2="$TEST_TMP/jar2"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar2" -H 'Content-Type: application/json' \
  --data '{"username":"agent","password":"a long enough password"}' "$SERVER_URL/dashboard/login")
assert_eq 200 "$code" "login on the short-session server"
# Sent by hand: curl itself would drop the cookie once its Max-Age passed,
# and this is about the server forgetting the session.
token=$(awk '$6 == "logshare_session" { print $7 }' "$jar2")
[ ${#token} = 64 ] || fail "session token in the cookie jar"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: logshare_session=$token" "$SERVER_URL/api/v1/tickets")" "fresh session works"
sleep 2.2
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: logshare_session=$token" "$SERVER_URL/api/v1/tickets")" "expired session refused"
pass "sessions expire on the server"

# --- log viewer with a key: files it cannot read are explained ------------
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/support" >/dev/null
"$LOGSHARE_BIN" keygen --out "$TEST_TMP/other" >/dev/null
printf 'hello from another key\n' | "$LOGSHARE_BIN" log --dir "$TEST_TMP/otherlogs" --stream calling \
  --public-key-file "$TEST_TMP/other.pub"
other_file=$(ls "$TEST_TMP/otherlogs"/*.lslog | head -1)
printf 'not a log file at all\n' > "$TEST_TMP/notes.txt"
start_server "$data" --support-secret-key-file "$TEST_TMP/support.key"
support_token=$("$LOGSHARED_BIN" token --data-dir "$data" --user lead --role support)
created=$(curl -s -H "Authorization: Bearer $user_token" -F 'description=two files' \
  -F "file=@$other_file" -F "file=@$TEST_TMP/notes.txt" "$SERVER_URL/api/v1/tickets")
tid=$(printf '%s' "$created" | sed -n 's/.*"id":"\(tk_[0-9a-f]*\)".*/\1/p')
aids=$(printf '%s' "$created" | grep -o '"id":"at_[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$tid" ] && [ "$(echo "$aids" | wc -l)" = 2 ] || fail "ticket with two files: $created"
log_of() { curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$1/log"; }
assert_eq 422 "$(log_of "$(echo "$aids" | sed -n 1p)")" "a log for another key"
assert_contains "$(cat "$TEST_TMP/log.json")" '"code":"bad_key"' "another key is named"
assert_eq 422 "$(log_of "$(echo "$aids" | sed -n 2p)")" "not a log file"
assert_contains "$(cat "$TEST_TMP/log.json")" '"code":"bad_format"' "not a log file is named"
code=$(curl -s -o "$TEST_TMP/log.json" -w '%{http_code}' -H "Authorization: Bearer $support_token" \
  "$SERVER_URL/api/v1/tickets/$tid/attachments/$(echo "$aids" | sed -n 1p)/log?limit=5000")
assert_eq 400 "$code" "limit over 1000"
leftovers=$(find "$data" -name '.dashboard-log-*' | wc -l)
assert_eq 0 "$leftovers" "no temporary copies left in the data dir"
pass "log viewer: foreign keys and non-log files get clear errors; nothing left behind"

# --- behind a reverse proxy that sends its own Host -------------------------
# The browser's Origin is the public address (public_url), the Host the
# proxy's upstream: logins and changes from the public origin work (they
# were refused 403), other origins still do not.
stop_server TERM
start_server "$data" --public-url https://support.example.test/base
assert_eq 200 "$(login agent 'a long enough password' -H 'Origin: https://support.example.test')" \
  "a login from public_url's origin, Host the proxy's"
assert_eq 200 "$(login agent 'a long enough password' -H 'Origin: HTTPS://Support.Example.Test')" \
  "origins compare without case"
assert_eq 403 "$(login agent 'a long enough password' -H 'Origin: https://support.example.test.evil')" \
  "a longer host is another origin"
assert_eq 403 "$(login agent 'a long enough password' -H 'Origin: http://support.example.test')" \
  "another scheme is another origin"
assert_eq 403 "$(login agent 'a long enough password' -H 'Origin: https://support.example.test/base')" \
  "an origin has no path"
pass "behind a Host-rewriting proxy, public_url's origin may log in"

# --- under TLS the session cookie is Secure ---------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/tls.key" -out "$TEST_TMP/tls.pem" \
  -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_server "$data" --tls-cert "$TEST_TMP/tls.pem" --tls-key "$TEST_TMP/tls.key"
code=$(curl -s --cacert "$TEST_TMP/tls.pem" -o /dev/null -D "$TEST_TMP/tls.h" -w '%{http_code}' \
  -H 'Content-Type: application/json' --data '{"username":"agent","password":"a long enough password"}' \
  "https://127.0.0.1:$SERVER_PORT/dashboard/login")
assert_eq 200 "$code" "login over HTTPS"
cookie=$(header Set-Cookie "$TEST_TMP/tls.h")
assert_contains "$cookie" "logshare_session=" "session cookie over HTTPS"
case "$cookie" in *"; Secure"*) ;; *) fail "the cookie over HTTPS is not Secure: $cookie" ;; esac
assert_contains "$cookie" "HttpOnly" "still HttpOnly"
assert_contains "$cookie" "SameSite=Strict" "still SameSite=Strict"
pass "under TLS the session cookie is Secure"
