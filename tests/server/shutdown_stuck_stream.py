#!/usr/bin/env python3
"""shutdown_stuck_stream.py PORT PID USER_TOKEN SUPPORT_TOKEN

For shutdown_stuck_stream.sh: fills a log-request stream whose client
stopped reading (a small receive buffer, nothing read), checks that the
server really has bytes it cannot send on it, sends SIGTERM to PID, and
then, from 0.2 s after it (a connection made at once may come before the
server took the signal), tries a new connection every 100 ms until PID
is gone. Prints
"blocked TX_QUEUE" and then one "served T" line per request a new
connection got an answer to, T seconds after the SIGTERM."""
import http.client
import json
import os
import signal
import socket
import sys
import time

port, pid, user_tok, sup_tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

# ~3.5 MB of pending requests: more than the kernel's socket buffers hold
# on loopback, so the stream cannot finish sending its first load.
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
body = json.dumps({"user_id": "stuck", "reason": "r" * 2000})
for _ in range(1500):
    c.request("POST", "/api/v1/log-requests", body,
              {"Authorization": "Bearer " + sup_tok, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("creating a log request: %d" % r.status)
c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(("GET /api/v1/log-requests/stream HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\n\r\n" % user_tok).encode())
time.sleep(1.0)


def server_tx_queue():
    """Bytes the server's end of our stream has queued and not sent."""
    mine = s.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            local, remote = int(p[1].split(":")[1], 16), int(p[2].split(":")[1], 16)
            if local == port and remote == mine:
                return int(p[4].split(":")[0], 16)
    return 0


def running():
    """PID has not exited (the test's shell reaps it only later)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


print("blocked", server_tx_queue(), flush=True)
t0 = time.monotonic()
os.kill(pid, signal.SIGTERM)
time.sleep(0.2)  # a connection made at once may well be in before the signal is taken
while running() and time.monotonic() - t0 < 20:
    try:
        n = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        n.request("GET", "/healthz")
        n.getresponse().read()
        print("served %.2f" % (time.monotonic() - t0), flush=True)
        n.close()
    except OSError:
        pass
    time.sleep(0.1)
if not running():
    print("exited %.2f" % (time.monotonic() - t0), flush=True)
s.close()
