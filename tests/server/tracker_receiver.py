#!/usr/bin/env python3
"""tracker_receiver.py PORT_FILE LOG MODE_FILE SECRET_FILE BODY_DIR [PORT]

A tracker webhook receiver on 127.0.0.1 (PORT, or a free port) for
tracker_webhook*.sh. It checks every POST's signature with its own
HMAC-SHA256 (not logshared's code) with the key in SECRET_FILE, writes the body to
BODY_DIR/<n>.json and appends one line to LOG:

    <mode> <delivery id> <event> <sig ok|sig bad> <ticket id>

and answers according to MODE_FILE, read at each request:
  ok       200 {"url": "https://tracker.example/item/<ticket id>"}
  flaky    500 to the first request of each delivery id, then as ok
  silent   never answers (holds the connection)
  nonjson  200 with a body that is not JSON
  jsurl    200 {"url": "javascript:alert(1)"}
  big      200 with a 10 MB JSON body that has a valid url
"""
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

port_file, log, mode_file, secret_file, body_dir = sys.argv[1:6]
port = int(sys.argv[6]) if len(sys.argv) > 6 else 0
lock = threading.Lock()
seen = {}
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender stopped reading (a body over its limit)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Logshare-Timestamp", "")
        sig = self.headers.get("X-Logshare-Signature", "")
        delivery = self.headers.get("X-Logshare-Delivery", "?")
        event = self.headers.get("X-Logshare-Event", "?")
        # Read now: logshared makes its default secret file at start.
        secret = open(secret_file, "rb").read().rstrip()
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        ok = fresh and hmac.compare_digest(want, sig)
        try:
            ticket = json.loads(body)["ticket"]["id"]
        except (ValueError, KeyError, TypeError):
            ticket = "?"
        mode = open(mode_file).read().strip()
        with lock:
            count[0] += 1
            with open(os.path.join(body_dir, "%d.json" % count[0]), "wb") as f:
                f.write(body)
            first = delivery not in seen
            seen[delivery] = True
            shown = "fail" if mode == "flaky" and first else mode
            with open(log, "a") as f:
                f.write("%s %s %s %s %s\n" % (shown, delivery, event,
                                              "sig ok" if ok else "sig bad", ticket))
        if mode == "silent":
            threading.Event().wait()  # never answered
        if shown == "fail":
            return self.answer(500, b'{"error":"try later"}')
        if mode == "nonjson":
            return self.answer(200, b"<html>thanks</html>")
        if mode == "jsurl":
            return self.answer(200, b'{"url": "javascript:alert(1)"}')
        url = ("https://tracker.example/item/%s" % ticket).encode()
        if mode == "big":
            return self.answer(200, b'{"url": "' + url + b'", "pad": "' + b"A" * (10 << 20) + b'"}')
        return self.answer(200, b'{"url": "' + url + b'"}')


srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
srv.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
