#!/usr/bin/env python3
"""shutdown_defer_race.py LOGSHARED DATA_DIR LINE OUT

For shutdown_defer_race.sh. Runs logshared under gdb (non-stop mode,
so only the thread that hits the breakpoint stops) with a breakpoint at
server.c:LINE, a line of workers_stop after the worker pool has left.
An upload sends all but the last bytes of its body; SIGTERM with
shutdown_timeout_s 1 lets the deadline pass, the main thread stops at
the breakpoint, and only then does the body end, so the upload is
handed to the pool just after its last worker left. gdb then lets the
server finish. Writes gdb's output (with the server's) to OUT and prints
the first line of the upload's answer."""
import atexit
import os
import signal
import socket
import subprocess
import sys
import time

bin_, data, line, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
port_file, flag = data + ".port", data + ".go"
os.makedirs(data, exist_ok=True)
# LeakSanitizer cannot run under ptrace: in a sanitized build it would
# abort the exit that is checked here (ASan's other checks stay on).
env = dict(os.environ)
env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
wait_flag = "shell for i in $(seq 200); do [ -e %s ] && break; sleep 0.05; done" % flag
gdb = subprocess.Popen(
    ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set non-stop on",
     "-ex", "break server.c:%s" % line, "-ex", "run", "-ex", wait_flag, "-ex", "continue",
     "--args", bin_, "--listen", "127.0.0.1:0", "--data-dir", data, "--port-file", port_file,
     "--shutdown-timeout-s", "1"],
    stdout=open(out, "w"), stderr=subprocess.STDOUT, env=env)


def stop_gdb():
    """On any way out: neither gdb nor the server under it stays."""
    if gdb.poll() is None:
        for pid in subprocess.run(["pgrep", "-P", str(gdb.pid)], capture_output=True,
                                  text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        gdb.kill()
        gdb.wait()


atexit.register(stop_gdb)


def wait_for(cond, what, seconds=30):
    until = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > until or gdb.poll() is not None:
            gdb.kill()
            sys.exit("timed out waiting for " + what + ": " + open(out).read()[-2000:])
        time.sleep(0.05)


wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), "the port")
port = int(open(port_file).read())
tok = subprocess.check_output([bin_, "token", "--data-dir", data, "--user", "u"], text=True).strip()
b = "race"
body = ("--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nlate\r\n"
        "--%s\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nhello\r\n"
        "--%s--\r\n" % (b, b, b)).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
           % (tok, b, len(body))).encode() + body[:-5])
time.sleep(0.3)
pid = int(subprocess.check_output(["pgrep", "-P", str(gdb.pid)]).split()[0])  # the inferior
os.kill(pid, signal.SIGTERM)
wait_for(lambda: "hit Breakpoint" in open(out).read(), "the breakpoint")
s.sendall(body[-5:])
time.sleep(0.5)  # the HTTP thread takes the end of the body
open(flag, "w").close()
s.settimeout(20)
try:
    answer = s.recv(200).split(b"\r\n")[0].decode() or "closed"
except OSError as e:
    answer = "error " + str(e)
gdb.wait(timeout=30)
print(answer)
