#!/usr/bin/env python3
"""Records how Debian's Go Pushgateway routes requests, as a test fixture.

For each configuration (route prefix, telemetry path, admin API) and each
(method, raw path) pair, sends one request to a fresh
prometheus-pushgateway and records the status, Location and Allow headers
and the first line of the body. The Rust router test replays the same
requests against our router and compares.

  scripts/probe-go-routes.py > crates/server/tests/fixtures/go_routes.json
"""
import http.client, json, socket, subprocess, sys, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

PATHS = [
    "/", "//", "/status", "/status/", "/Status", "/-/healthy", "/-/healthy/", "/-/Healthy", "/-/ready",
    "/-/quit", "/-/quit/", "/metrics", "/metrics/", "/Metrics", "/METRICS/", "/metrics?x=1", "/metrics/job",
    "/metrics/job/", "/metrics/job/a", "/metrics/job/a/", "/metrics/job/a/b", "/metrics/job/a/b/c",
    "/metrics/job/a/b/c/", "/metrics/job/a//b", "/metrics/job//a", "/metrics/job/./a", "/metrics/job/a/../b",
    "/metrics/job/a%2Fb", "/metrics/job/enc/path/%2Fvar%2Ftmp", "/metrics/job/enc/path/a%2Fb",
    "/metrics/job/%41", "/metrics/job/a%20b/c/d%20e", "/metrics/job/a?x=y", "/Metrics/job/up", "/metrics/Job/up",
    "/metrics/job@base64/", "/metrics/job@base64/YQ", "/metrics/job@base64/YQ/", "/metrics/job@base64",
    "/metrics/jobs/a", "/metrics/job/a/instance", "/metrics/job/a/instance/", "/api", "/api/", "/api/v1",
    "/api/v1/", "/api/v1/status", "/api/v1/status/", "/api/v1/Status", "/api/v1/metrics", "/api/v1/metrics/",
    "/api/v1/admin/wipe", "/api/v1/admin/wipe/", "/api/v1/nope", "/api/v2/status", "/static", "/static/",
    "/static/nope.css", "/debug/pprof", "/nope", "/nope/", "/-/", "/-", "/metrics/job/a/b%2F", "/%7e",
    "/metrics/job/%zz",
]
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
CONFIGS = [
    {"name": "default", "flags": ["--web.enable-admin-api", "--web.enable-lifecycle"]},
    {"name": "prefix", "flags": ["--web.route-prefix=/pg"], "prefix": "/pg"},
    {"name": "telemetry", "flags": ["--web.telemetry-path=/m/x"], "extra_paths": ["/m/x", "/m/x/", "/m", "/M/X"]},
]

def request(port, method, path):
    # Raw request so that the path reaches the server byte for byte.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    first = body.decode("utf-8", "replace").split("\n")[0] if method != "HEAD" else ""
    return {"status": status, "location": headers.get("location"), "allow": headers.get("allow"),
            "body": first if status >= 300 else None}

out = {"generated_by": "scripts/probe-go-routes.py against Debian prometheus-pushgateway 1.5.1", "configs": []}
for cfg in CONFIGS:
    port = free_port()
    proc = subprocess.Popen(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:%d" % port, "--persistence.file="] + cfg["flags"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    prefix = cfg.get("prefix", "")
    paths = [prefix + p for p in PATHS] + (PATHS if prefix else []) + cfg.get("extra_paths", [])
    cases = []
    for p in paths:
        for m in METHODS:
            if m == "PUT" and "quit" in p:
                continue  # would stop the gateway
            if m in ("PUT", "POST") and "/-/quit" in p and "lifecycle" in " ".join(cfg["flags"]):
                continue
            r = request(port, m, p)
            r.update({"method": m, "path": p})
            cases.append(r)
    proc.terminate(); proc.wait()
    out["configs"].append({"name": cfg["name"], "flags": cfg["flags"], "cases": cases})
json.dump(out, sys.stdout, indent=1)
