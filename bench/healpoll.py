#!/usr/bin/env python3
"""bench/healpoll.py STATUS_URL VICTIM_ID PID TIMEOUT: kill a chunkserver and time the heal.

For bench/rereplication.sh (ferrofs step). One long-lived process polls the master's
`/api/v1/status` over a kept-open HTTP connection, so the timings are the master's,
not the start-up of a status tool whose pages a busy disk has to read back (after the
page cache is dropped, a `ferrofs admin status` + python3 per poll took up to a
second while the copies saturated the disk, and read as a slow detection).

It reads the status once (warm, and the copies completed so far), then sends SIGKILL to
PID and polls every 20 ms until the master reports VICTIM_ID not alive ("declared
dead"), then every 50 ms until no chunk is under-replicated or missing and copies
were seen (under-replicated > 0 once, or as many copies completed as the victim held
chunks). Prints one line on stdout:

    ok T_KILL T_DEAD T_DONE COPIES PEAK_UNDER
    timeout T_KILL T_DEAD_OR_- UNDER MISSING

Times are Unix seconds. A poll's time is when its answer arrived (so a slow answer
counts against ferrofs). Progress goes to stderr every 5 s.

TLS: FERROFS_TLS=DIR (ca.pem, cert.pem, key.pem), as the ferrofs CLI takes it.
"""
import http.client
import json
import os
import signal
import ssl
import sys
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        d = os.environ["FERROFS_TLS"]
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
        ctx.check_hostname = False
        ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=ctx)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


class Poller:
    def __init__(self, url):
        self.url = url
        self.path = urllib.parse.urlsplit(url).path or "/api/v1/status"
        self.conn = connect(url)

    def status(self):
        for attempt in range(3):
            try:
                self.conn.request("GET", self.path)
                r = self.conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise OSError(f"status {r.status}: {body[:200]!r}")
                return json.loads(body), time.time()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = connect(self.url)
                if attempt == 2:
                    raise


def health(s, victim):
    v = [c for c in s["chunkservers"] if c["id"] == victim]
    ch = s["chunks"]
    return (bool(v and v[0]["alive"]), ch["under_replicated"], ch["missing"],
            s["rereplication"]["completed"])


def main():
    url, victim, pid, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    p = Poller(url)
    s, _ = p.status()
    alive, _, _, copied0 = health(s, victim)
    if not alive:
        sys.exit(f"healpoll: {victim} is not alive before the kill")
    vchunks = next(c["chunks"] for c in s["chunkservers"] if c["id"] == victim)
    t_kill = time.time()
    os.kill(pid, signal.SIGKILL)
    t_dead = None
    seen_under = False
    peak = 0
    last_log = t_kill
    while True:
        s, t = p.status()
        alive, under, missing, copied = health(s, victim)
        if t_dead is None and not alive:
            t_dead = t
            print(f"healpoll: declared dead {t_dead - t_kill:.3f}s after the kill", file=sys.stderr)
        if t_dead is not None:
            seen_under |= under > 0
            peak = max(peak, under)
            if under == 0 and missing == 0 and (seen_under or copied - copied0 >= vchunks):
                print(f"ok {t_kill:.6f} {t_dead:.6f} {t:.6f} {copied - copied0} {peak}")
                return
        if t - t_kill > timeout:
            dead = f"{t_dead:.6f}" if t_dead is not None else "-"
            print(f"timeout {t_kill:.6f} {dead} {under} {missing}")
            return
        if t - last_log > 5:
            print(f"healpoll: +{t - t_kill:.1f}s alive={alive} under_replicated={under} "
                  f"missing={missing} copies done={copied - copied0}", file=sys.stderr)
            last_log = t
        time.sleep(0.02 if t_dead is None else 0.05)


if __name__ == "__main__":
    main()
