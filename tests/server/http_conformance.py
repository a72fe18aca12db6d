#!/usr/bin/env python3
"""http_conformance.py - HTTP/1.1 message framing of a running logshared
(RFC 9110/9112) over raw sockets, where a request body could be taken for
the next request (a desync, or request smuggling behind a proxy).

usage: http_conformance.py PORT USER_TOKEN SUPPORT_TOKEN

Each case sends bytes on a fresh connection, usually a request followed
by a pipelined "GET /healthz" that asks to close, then reads until the
server closes (or 2 s of silence), and checks the status lines that came
back: [400] where [400, 200] was possible means the connection was closed
after the 400. Prints one line per failure; exit 1 if any.
"""
import re
import socket
import sys
import time

PORT, TOK, STOK = int(sys.argv[1]), sys.argv[2], sys.argv[3]
NEXT = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
NEXT_KA = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"  # keeps the connection
MP = "Content-Type: multipart/form-data; boundary=b\r\n"
FORM = ('--b\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
        'conformance\r\n--b--\r\n')
failures = []


def exchange(data, quiet_s=2.0, total_s=10.0):
    """Sends data; returns (response bytes, closed by the server, seconds)."""
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(quiet_s)
    t0 = time.monotonic()
    s.sendall(data.encode("latin1"))
    out, closed = b"", False
    while time.monotonic() - t0 < total_s:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not b:
            closed = True
            break
        out += b
    s.close()
    return out.decode("latin1"), closed, time.monotonic() - t0


def statuses(resp):
    return [int(code) for code in re.findall(r"HTTP/1\.1 (\d{3}) ", resp)]


def check(what, data, want, closed=None, body_has=None, no_100=False):
    """want: the list of final statuses expected, in order."""
    resp, was_closed, secs = exchange(data)
    got = [s for s in statuses(resp) if s != 100]
    if got != want:
        failures.append(f"{what}: statuses {got}, expected {want}; answer: {resp[:400]!r}")
    if closed is not None and was_closed != closed:
        failures.append(f"{what}: connection {'closed' if was_closed else 'left open'}, "
                        f"expected {'closed' if closed else 'open'}")
    if body_has and body_has not in resp:
        failures.append(f"{what}: {body_has!r} not in the answer {resp[:400]!r}")
    if no_100 and "100 Continue" in resp:
        failures.append(f"{what}: 100 Continue sent where none is due")
    return resp, secs


def post_with(header_block, body, path="/api/v1/log-requests"):
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {STOK}\r\n"
            f"Content-Type: application/json\r\n{header_block}\r\n{body}")


# --- field names libmicrohttpd would not take as framing (smuggling) ------------
# Each hides a body from libmicrohttpd that a lenient proxy in front would
# frame: the body must not be read as a second request. 400, then close.
SMUGGLED = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
check("whitespace before the colon of Content-Length",
      post_with(f"Content-Length : {len(SMUGGLED)}\r\n", SMUGGLED), [400], closed=True,
      body_has="invalid header field name")
check("whitespace before the colon of Transfer-Encoding",
      post_with("Transfer-Encoding : chunked\r\n", f"{len(SMUGGLED):x}\r\n{SMUGGLED}\r\n0\r\n\r\n"),
      [400], closed=True, body_has="invalid header field name")
check("a tab in a field name", f"GET /healthz HTTP/1.1\r\nHost: x\r\nX\tY: 1\r\n\r\n" + NEXT,
      [400], closed=True)
check("Content-Length folded onto the next line (obs-fold)",
      post_with("Content-Length:\r\n " + str(len(SMUGGLED)) + "\r\n", SMUGGLED), [400],
      closed=True)
check("Transfer-Encoding folded onto the next line (obs-fold)",
      post_with("Transfer-Encoding:\r\n chunked\r\n", f"{len(SMUGGLED):x}\r\n{SMUGGLED}\r\n0\r\n\r\n"),
      [400], closed=True)
check("a bare CR inside a field value",
      post_with(f"X-Note: a\rContent-Length: {len(SMUGGLED)}\r\n", SMUGGLED), [400], closed=True,
      body_has="control character")
check("whitespace before the first field (a fold onto the request line)",
      "GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n" + NEXT, [400], closed=True)
# docs/api.md: libmicrohttpd answers a line without a colon itself (400, close)
check("a header line without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note\r\n\r\n" + NEXT,
      [400], closed=True)
check("a tab and obs-text in a value are fine",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\tb \xe9\r\n\r\n" + NEXT, [200, 200])
# what was already refused stays refused, and closes
check("Content-Length and Transfer-Encoding together",
      post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + NEXT),
      [400], closed=True)
check("two Content-Length lines", post_with("Content-Length: 2\r\nContent-Length: 2\r\n", "{}" + NEXT),
      [400], closed=True)

check("Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1: faulty framing)",
      f"POST /api/v1/tickets HTTP/1.0\r\nConnection: keep-alive\r\nAuthorization: Bearer {TOK}\r\n"
      f"{MP}Transfer-Encoding: chunked\r\n\r\n{len(FORM):x}\r\n{FORM}\r\n0\r\n\r\n" + NEXT,
      [400], closed=True, body_has="HTTP/1.0")

check("two Content-Type lines on an upload (two boundaries)",
      f"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOK}\r\n{MP}"
      f"Content-Type: multipart/form-data; boundary=other\r\nContent-Length: {len(FORM)}\r\n\r\n"
      f"{FORM}" + NEXT, [400, 200], body_has="more than one Content-Type")

# --- Host (RFC 9112 3.2) ---------------------------------------------------------
check("HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n" + NEXT, [400, 200],
      body_has="Host")
check("two Host lines", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + NEXT, [400, 200],
      body_has="more than one Host")
check("a Host with a slash", "GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n" + NEXT, [400, 200],
      body_has="invalid Host")
check("HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", [200], closed=True)
check("Host with a port and an IPv6 literal",
      "GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n" + NEXT, [200, 200])
check("an empty Host", "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n" + NEXT, [200, 200])
# white space after a value is not part of it (RFC 9112 5, field-value OWS);
# libmicrohttpd 0.9.75 keeps it, and the Host check refused "Host: a "
check("white space after the Host value", "GET /healthz HTTP/1.1\r\nHost: logs.example:8080 \t\r\n"
      "\r\n" + NEXT, [200, 200])
# and every reader sees it without: the dashboard's Origin check compared
# "logs.example " with the Origin's host and refused a same-origin login (403)
LOGIN = '{"username":"nobody","password":"wrong"}'
check("white space after the Host value, Origin check of a dashboard login",
      f"POST /dashboard/login HTTP/1.1\r\nHost: logs.example \r\nOrigin: http://logs.example\r\n"
      f"Content-Type: application/json\r\nContent-Length: {len(LOGIN)}\r\nConnection: close\r\n\r\n"
      + LOGIN, [401], body_has="wrong user name or password")
check("Host forms: localhost, upper case, a trailing dot, punycode, an IPv4 with a port",
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: LOGS.Example.COM.\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" + NEXT, [200, 200, 200, 200, 200])
check("white space inside the Host value is still refused",
      "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n" + NEXT, [400, 200], body_has="invalid Host")

# --- absolute-form target (RFC 9112 3.2.2) ------------------------------------
check("absolute-form GET", "GET http://logs.example/healthz HTTP/1.1\r\nHost: logs.example\r\n\r\n"
      + NEXT, [200, 200])
check("absolute-form with a query, authenticated",
      f"GET HTTPS://logs.example/api/v1/tickets?limit=1 HTTP/1.1\r\nHost: logs.example\r\n"
      f"Authorization: Bearer {STOK}\r\nConnection: close\r\n\r\n", [200], body_has='"tickets"')
check("absolute-form without a path is / (the dashboard's redirect)",
      "GET http://logs.example HTTP/1.1\r\nHost: logs.example\r\nConnection: close\r\n\r\n",
      [302], body_has="Location: /dashboard/")

# --- many query parameters ---------------------------------------------------------
# libmicrohttpd ran out of connection memory storing them and answered nothing
# (the client waited for header_timeout_s); now 400 at once, and the
# connection stays usable.
many = "&".join(["a=b"] * 3000)
_, secs = check("3000 query parameters",
                f"GET /api/v1/tickets?{many} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {STOK}\r\n\r\n"
                + NEXT, [400, 200], body_has="more than 64 query parameters")
if secs > 5:
    failures.append(f"3000 query parameters: answered after {secs:.1f} s")
check("65 query parameters", f"GET /healthz?{'&'.join(['a=b'] * 65)} HTTP/1.1\r\nHost: x\r\n\r\n"
      + NEXT, [400, 200], body_has="more than 64")
# a query after a target of nearly the pool's size: its parameters did not fit
# either, same silence; now 414 once the target is over half the pool
# (connection_memory_bytes, 128 KiB by default)
long_path = "/healthz/" + "a" * 130000
_, secs = check("64 query parameters after a 130 KB path",
                f"GET {long_path}?{'&'.join(['a=b'] * 64)} HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT,
                [414, 200], body_has="request target with a query over 65536 bytes")
if secs > 5:
    failures.append(f"64 query parameters after a 130 KB path: answered after {secs:.1f} s")
check("a 60 KB path with 64 query parameters", f"GET /healthz/{'a' * 60000}?"
      f"{'&'.join(['a=b'] * 64)} HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT, [404, 200])
check("64 query parameters (ignored by /healthz)",
      f"GET /healthz?{'&'.join(['a=b'] * 64)} HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT, [200, 200],
      closed=True)

# --- pipelining and the state after an answer -----------------------------------
up = (f"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOK}\r\n{MP}"
      f"Content-Length: {len(FORM)}\r\n\r\n{FORM}")
up_chunked = (f"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOK}\r\n{MP}"
              f"Transfer-Encoding: chunked\r\n\r\n{len(FORM):x};ext=1\r\n{FORM}\r\n0\r\n"
              f"X-Trailer: t\r\n\r\n")
check("pipelined: upload, GET, chunked upload with an extension and a trailer, GET",
      up + NEXT_KA + up_chunked + NEXT, [201, 200, 201, 200])
check("a refused upload's body is read and dropped, then the next request answered",
      up.replace(f"Authorization: Bearer {TOK}\r\n", "") + NEXT, [401, 200])
bad_form = FORM.replace("description", "nosuch")
check("a malformed form's body is read to its end, then the next request answered",
      up.replace(FORM, bad_form).replace(f"Content-Length: {len(FORM)}",
                                         f"Content-Length: {len(bad_form)}") + NEXT,
      [400, 200])

# --- Expect: 100-continue -----------------------------------------------------------
# refused from the headers: the final status without 100, and close (the
# client has not sent its body); accepted: 100, then the body is read.
head_only = (f"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n{MP}Expect: 100-continue\r\n"
             f"Content-Length: {len(FORM)}\r\n\r\n")
check("Expect: 100-continue, refused", head_only, [401], closed=True, no_100=True)
# without a body (GET, Content-Length: 0) there is nothing to continue:
# libmicrohttpd sent "100 Continue", then dropped the answer and closed
# when the next request was already there
check("Expect: 100-continue on a GET, pipelined",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n" + NEXT, [200, 200],
      no_100=True)
check("Expect: 100-continue with Content-Length: 0, pipelined",
      "POST /api/v1/log-requests/lr_x/decline HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 0\r\n\r\n" + NEXT, [401, 200], no_100=True)
s = socket.create_connection(("127.0.0.1", PORT))
s.settimeout(3)
s.sendall(head_only.replace("Host: x\r\n", f"Host: x\r\nAuthorization: Bearer {TOK}\r\n").encode())
first = s.recv(4096).decode("latin1")
if not first.startswith("HTTP/1.1 100 Continue\r\n\r\n"):
    failures.append(f"Expect: 100-continue, accepted: first answer {first[:100]!r}")
s.sendall(FORM.encode())
time.sleep(0.5)
rest = first[len("HTTP/1.1 100 Continue\r\n\r\n"):] + s.recv(65536).decode("latin1")
if not rest.startswith("HTTP/1.1 201 "):
    failures.append(f"Expect: 100-continue, accepted: after the body {rest[:200]!r}")
s.close()

for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
