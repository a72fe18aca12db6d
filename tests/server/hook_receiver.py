#!/usr/bin/env python3
"""hook_receiver.py PORT_FILE LOG MODE_FILE: a webhook receiver on a free
port of 127.0.0.1 for shutdown_webhook.sh. While MODE_FILE holds
"silent" it takes each request's headers and never answers; otherwise
it answers 200. Every request's X-Logshare-Delivery is appended to LOG
("silent ID" or "ok ID")."""
import os
import socket
import sys
import threading

port_file, log, mode_file = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
held = []


def serve(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            return
        data += chunk
    delivery = "?"
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"x-logshare-delivery:"):
            delivery = line.split(b":", 1)[1].strip().decode()
    mode = open(mode_file).read().strip()
    with open(log, "a") as f:
        f.write("%s %s\n" % ("silent" if mode == "silent" else "ok", delivery))
    if mode == "silent":
        held.append(c)  # never answered
        return
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c.close()


with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
