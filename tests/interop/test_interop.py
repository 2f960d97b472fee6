#!/usr/bin/env python3
"""Interop tests: real clients and a real Prometheus against the gateway.

Every client test runs against our gateway (PUSHGATEWAY_BIN, default
target/release/pushgateway) and against Debian's Go prometheus-pushgateway,
and expects the same outcome from both, except where a test says the Go
1.5.1 gateway lacks the feature (snappy).

  python3 tests/interop/test_interop.py            # all
  python3 tests/interop/test_interop.py -k Python  # a subset (unittest -k)

Needs: PyPI prometheus_client (and python-snappy for the snappy test),
npm prom-client installed in tests/interop/node, Debian's
prometheus-pushgateway and prometheus packages.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import (
    basic_auth_handler,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
    tls_auth_handler,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = os.environ.get("PUSHGATEWAY_BIN", os.path.join(ROOT, "target", "release", "pushgateway"))
GO = os.environ.get("GO_PUSHGATEWAY_BIN", "prometheus-pushgateway")
NODE_DIR = os.path.join(ROOT, "tests", "interop", "node")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A gateway process on a free loopback port."""

    def __init__(self, binary, *flags):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "--web.listen-address=127.0.0.1:%d" % self.port, "--persistence.file="] + list(flags),
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/-/ready", timeout=1).status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start" % binary)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read().decode()

    def groups(self):
        """{frozenset(grouping labels): group json}"""
        data = json.loads(self.get("/api/v1/metrics"))["data"]
        return {frozenset(g["labels"].items()): g for g in data}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


GATEWAYS = [("ours", OURS), ("go", GO)]


def registry_with_metrics(value=1.0):
    registry = CollectorRegistry()
    g = Gauge("job_last_success_unixtime", "Last time a batch job successfully finished", registry=registry)
    g.set(value)
    c = Counter("job_records_processed", "Records processed", ["table"], registry=registry)
    c.labels("users").inc(42)
    h = Histogram("job_duration_seconds", "Duration", buckets=(0.5, 1, 5), registry=registry)
    h.observe(0.7)
    s = Summary("job_batch_size", "Batch sizes", registry=registry)
    s.observe(12)
    return registry


class PythonClient(unittest.TestCase):
    """PyPI prometheus_client's push, pushadd and delete."""

    KEYS = [
        {"instance": "host/with/slashes"},
        {"instance": "with spaces", "region": "eu west"},
        {"instance": ""},
        {"instance": "ünïcödé €", "path": "/var/tmp"},
        {"instance": "plain+sign%"},
    ]

    def run_both(self, check):
        results = {}
        for name, binary in GATEWAYS:
            gw = Gateway(binary)
            try:
                results[name] = check(gw)
            finally:
                gw.stop()
        self.assertEqual(results["ours"], results["go"])
        return results["ours"]

    def test_push_pushadd_delete_with_awkward_grouping_keys(self):
        def scenario(gw):
            seen = []
            for key in self.KEYS:
                push_to_gateway(gw.url, job="batch/job", registry=registry_with_metrics(), grouping_key=key)
                groups = gw.groups()
                labels = dict(key, job="batch/job")
                group = groups[frozenset(labels.items())]
                self.assertTrue(group["last_push_successful"])
                seen.append(sorted(group))
                # pushadd replaces only same-name families.
                other = CollectorRegistry()
                Gauge("extra_gauge", "extra", registry=other).set(5)
                pushadd_to_gateway(gw.url, job="batch/job", registry=other, grouping_key=key)
                group = gw.groups()[frozenset(labels.items())]
                self.assertIn("extra_gauge", group)
                self.assertIn("job_records_processed_total", group)
                delete_from_gateway(gw.url, job="batch/job", grouping_key=key)
                self.assertNotIn(frozenset(labels.items()), gw.groups())
            return seen
        families = self.run_both(scenario)
        self.assertIn("job_duration_seconds", families[0])

    def test_gzip_push(self):
        def scenario(gw):
            push_to_gateway(gw.url, job="gz", registry=registry_with_metrics(7), compression="gzip")
            text = gw.get("/metrics")
            line = [l for l in text.splitlines() if l.startswith("job_last_success_unixtime{")]
            return line
        self.assertEqual(self.run_both(scenario), ['job_last_success_unixtime{instance="",job="gz"} 7'])

    def test_snappy_push_ours_only(self):
        try:
            import snappy  # noqa: F401
        except ImportError:
            self.fail("python-snappy is required (installed by scripts/test)")
        gw = Gateway(OURS)
        try:
            push_to_gateway(gw.url, job="sn", registry=registry_with_metrics(3), compression="snappy")
            self.assertIn('job_last_success_unixtime{instance="",job="sn"} 3', gw.get("/metrics"))
        finally:
            gw.stop()

    def test_error_status_surfaces(self):
        def scenario(gw):
            push_to_gateway(gw.url, job="a", registry=registry_with_metrics())
            bad = CollectorRegistry()
            Summary("job_last_success_unixtime", "now a summary", registry=bad).observe(1)
            with self.assertRaises(Exception) as ctx:
                push_to_gateway(gw.url, job="b", registry=bad)
            return "400" in str(ctx.exception)
        self.assertTrue(self.run_both(scenario))


class NodeClient(unittest.TestCase):
    """npm prom-client's Pushgateway."""

    def node(self, url, op, job, groupings, value="1"):
        return subprocess.run(["node", os.path.join(NODE_DIR, "push.js"), url, op, job, json.dumps(groupings), value],
                              capture_output=True, text=True, timeout=30)

    def test_push_pushadd_delete(self):
        results = {}
        for name, binary in GATEWAYS:
            gw = Gateway(binary)
            try:
                outcome = []
                for groupings in [{"instance": "web 1", "zone": "ü"}, {"instance": ""}, {}]:
                    r = self.node(gw.url, "push", "node_job", groupings, "4")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    labels = dict(groupings, job="node_job")
                    group = gw.groups()[frozenset(labels.items())]
                    outcome.append(group["node_interop_value"]["metrics"][0]["value"])
                    r = self.node(gw.url, "pushAdd", "node_job", groupings, "6")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    group = gw.groups()[frozenset(labels.items())]
                    outcome.append(group["node_interop_value"]["metrics"][0]["value"])
                    outcome.append(group["node_interop_events_total"]["type"])
                    r = self.node(gw.url, "delete", "node_job", groupings)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertNotIn(frozenset(labels.items()), gw.groups())
                results[name] = outcome
            finally:
                gw.stop()
        self.assertEqual(results["ours"], results["go"])
        self.assertEqual(results["ours"][:3], ["4", "6", "COUNTER"])


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate,
    written as PEM files; returns their paths."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("interop CA")).issuer_name(name("interop CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": write(os.path.join(directory, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))}
    for role, sans in [("server", [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                       ("client", [x509.DNSName("client.interop")])]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(role)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(ca_key, hashes.SHA256()))
        paths[role + "_cert"] = write(os.path.join(directory, role + ".pem"), cert.public_bytes(serialization.Encoding.PEM))
        paths[role + "_key"] = write(os.path.join(directory, role + ".key"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class PythonAuthHandlers(unittest.TestCase):
    """prometheus_client's basic_auth_handler and tls_auth_handler against a
    gateway with a web config (ours and Go's)."""

    def test_basic_auth_handler(self):
        import bcrypt
        directory = tempfile.mkdtemp(prefix="interop-auth-")
        config = os.path.join(directory, "web.yml")
        with open(config, "w") as f:
            f.write("basic_auth_users:\n  pusher: %s\n" % bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode())
        try:
            for name, binary in GATEWAYS:
                gw = GoWithAuthReady(binary, config)

                def handler(user, password):
                    return lambda url, method, timeout, headers, data: basic_auth_handler(
                        url, method, timeout, headers, data, user, password)

                push_to_gateway(gw.url, job="auth", registry=registry_with_metrics(), handler=handler("pusher", "s3cret"))
                for user, password in [("pusher", "wrong"), ("nobody", "s3cret"), (None, None)]:
                    with self.assertRaises(Exception, msg="%s %s/%s" % (name, user, password)) as ctx:
                        push_to_gateway(gw.url, job="auth", registry=registry_with_metrics(), handler=handler(user, password))
                    self.assertIn("401", str(ctx.exception))
                gw.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def test_tls_auth_handler_with_client_certificate(self):
        directory = tempfile.mkdtemp(prefix="interop-tls-")
        pki = make_pki(directory)
        config = os.path.join(directory, "web.yml")
        with open(config, "w") as f:
            f.write("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n")
        try:
            for name, binary in GATEWAYS:
                gw = GoWithAuthReady(binary, config, scheme="https", cafile=pki["ca"], cert=(pki["client_cert"], pki["client_key"]))

                def handler(url, method, timeout, headers, data):
                    return tls_auth_handler(url, method, timeout, headers, data, pki["client_cert"], pki["client_key"], pki["ca"])

                push_to_gateway(gw.url, job="tls", registry=registry_with_metrics(4), handler=handler)
                text = gw.get_tls("/metrics")
                self.assertIn('job_last_success_unixtime{instance="",job="tls"} 4', text, name)
                # Without a client certificate the handshake fails.
                import ssl
                context = ssl.create_default_context(cafile=pki["ca"])
                with self.assertRaises((ssl.SSLError, OSError), msg=name):
                    with urllib.request.urlopen(gw.url + "/-/healthy", context=context, timeout=5) as r:
                        r.read()
                gw.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


class Authorization(unittest.TestCase):
    """Our gateway's --web.auth-config seen by real clients: prometheus_client
    pushes with its basic_auth_handler within and outside its principal's
    jobs, and Debian's Prometheus scrapes as the read principal."""

    def setUp(self):
        import bcrypt
        self.directory = tempfile.mkdtemp(prefix="interop-authz-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        web = os.path.join(self.directory, "web.yml")
        with open(web, "w") as f:
            f.write("basic_auth_users:\n")
            for user, password in [("etl", "etl pass"), ("prometheus", "scrape pass")]:
                f.write("  %s: %s\n" % (user, bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()))
        policy = os.path.join(self.directory, "auth.yml")
        with open(policy, "w") as f:
            f.write("principals:\n"
                    "  - name: etl\n    basic_auth_user: etl\n    roles: [push]\n"
                    "    jobs: ['{job=~\"etl-.*\"}']\n"
                    "  - name: prometheus\n    basic_auth_user: prometheus\n    roles: [read]\n")
        self.gw = GoWithAuthReady(OURS, web, extra=["--web.auth-config=" + policy])
        self.addCleanup(self.gw.stop)

    @staticmethod
    def handler(user, password):
        return lambda url, method, timeout, headers, data: basic_auth_handler(
            url, method, timeout, headers, data, user, password)

    def read(self, path):
        request = urllib.request.Request(self.gw.url + path)
        import base64
        request.add_header("Authorization", "Basic " + base64.b64encode(b"prometheus:scrape pass").decode())
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.read().decode()

    def test_basic_auth_handler_pushes_in_scope_and_is_refused_outside(self):
        etl = self.handler("etl", "etl pass")
        push_to_gateway(self.gw.url, job="etl-nightly", registry=registry_with_metrics(3), handler=etl)
        for job in ["billing", "etl"]:
            with self.assertRaises(OSError) as ctx:
                push_to_gateway(self.gw.url, job=job, registry=registry_with_metrics(), handler=etl)
            self.assertIn("403", str(ctx.exception), job)
        with self.assertRaises(OSError) as ctx:
            delete_from_gateway(self.gw.url, job="billing", handler=etl)
        self.assertIn("403", str(ctx.exception))
        # The read principal may not push, and a wrong password is a 401.
        with self.assertRaises(OSError) as ctx:
            push_to_gateway(self.gw.url, job="etl-x", registry=registry_with_metrics(),
                            handler=self.handler("prometheus", "scrape pass"))
        self.assertIn("403", str(ctx.exception))
        with self.assertRaises(OSError) as ctx:
            push_to_gateway(self.gw.url, job="etl-x", registry=registry_with_metrics(),
                            handler=self.handler("etl", "wrong"))
        self.assertIn("401", str(ctx.exception))
        groups = json.loads(self.read("/api/v1/metrics"))["data"]
        self.assertEqual([g["labels"] for g in groups], [{"job": "etl-nightly"}])
        pushadd_to_gateway(self.gw.url, job="etl-nightly", registry=registry_with_metrics(4), handler=etl)
        self.assertIn('job_last_success_unixtime{instance="",job="etl-nightly"} 4', self.read("/metrics"))
        delete_from_gateway(self.gw.url, job="etl-nightly", handler=etl)
        self.assertEqual(json.loads(self.read("/api/v1/metrics"))["data"], [])

    def test_prometheus_scrapes_as_the_read_principal(self):
        push_to_gateway(self.gw.url, job="etl-load", registry=registry_with_metrics(7),
                        handler=self.handler("etl", "etl pass"))
        # Two scrape jobs: one with the read principal's credentials, one
        # with none (anonymous has no rights: up is 0 there).
        scrape = ("  - job_name: %s\n    honor_labels: true\n%s"
                  "    static_configs:\n      - targets: ['127.0.0.1:%d']\n")
        config = ("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                  + scrape % ("with_credentials", "    basic_auth:\n      username: prometheus\n"
                              "      password: scrape pass\n", self.gw.port)
                  + scrape % ("without_credentials", "", self.gw.port))
        with PrometheusServer(self.directory, config) as prom:
            result = prom.wait_for("job_last_success_unixtime")
            self.assertEqual([(r["metric"]["job"], r["value"][1]) for r in result], [("etl-load", "7")])
            up = {}
            deadline = time.time() + 30
            while time.time() < deadline and len(up) < 2:
                up = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
                time.sleep(0.5)
            self.assertEqual(up, {"with_credentials": "1", "without_credentials": "0"})


class PrometheusServer:
    """Debian's Prometheus with a given configuration, on a free port."""

    def __init__(self, directory, config):
        binary = shutil.which("prometheus")
        if binary is None:
            raise unittest.SkipTest("Debian's prometheus package is required")
        path = os.path.join(directory, "prometheus.yml")
        with open(path, "w") as f:
            f.write(config)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(directory, "prometheus-data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)

    def query(self, expression):
        query = urllib.parse.urlencode({"query": expression})
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?%s" % (self.port, query), timeout=5) as r:
                return json.loads(r.read())["data"]["result"]
        except OSError:
            return []

    def wait_for(self, expression, timeout=60):
        """The query's result once it is non-empty (empty after timeout)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = self.query(expression)
            if result:
                return result
            time.sleep(1)
        return []


class GoWithAuthReady(Gateway):
    """A gateway whose readiness is probed through its TLS or auth."""

    def __init__(self, binary, config, scheme="http", cafile=None, cert=None, extra=()):
        import ssl
        self.port = free_port()
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.context = None
        if scheme == "https":
            self.context = ssl.create_default_context(cafile=cafile)
            self.context.load_cert_chain(*cert)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "--web.listen-address=127.0.0.1:%d" % self.port, "--persistence.file=", "--web.config.file=" + config] + list(extra),
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start" % binary)

    def get_tls(self, path):
        with urllib.request.urlopen(self.url + path, context=self.context, timeout=10) as r:
            return r.read().decode()


class ReadmeExamples(unittest.TestCase):
    """The README's curl examples work as written (against our gateway)."""

    def test_curl_examples(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        blocks = [b.split("\n", 1)[1] for b in readme.split("```")[1::2] if b.startswith("sh\n")]
        blocks = [b for b in blocks if "curl" in b]
        self.assertGreaterEqual(len(blocks), 5)
        gw = Gateway(OURS, "--web.enable-admin-api")
        try:
            for block in blocks:
                script = block.replace("localhost:9091", "127.0.0.1:%d" % gw.port)
                # Any HTTP error makes curl, and so the block, fail.
                preamble = "set -e -o pipefail\ncurl() { command curl --fail-with-body -sS \"$@\"; }\n"
                r = subprocess.run(["bash", "-c", preamble + script], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, "README block failed:\n%s\n%s%s" % (block, r.stdout, r.stderr))
            groups = gw.groups()
            self.assertIn(frozenset({"job": "backup", "path": "/var/tmp"}.items()), groups)
            self.assertIn(frozenset({"job": "other_job", "region": ""}.items()), groups)
            self.assertNotIn(frozenset({"job": "some_job"}.items()), groups)
        finally:
            gw.stop()


class PrometheusScrape(unittest.TestCase):
    """Debian's Prometheus scrapes the gateway with honor_labels and serves
    the pushed series from its query API."""

    def test_prometheus_sees_pushed_series(self):
        gw = Gateway(OURS)
        workdir = tempfile.mkdtemp(prefix="interop-prom-")
        try:
            registry = CollectorRegistry()
            Gauge("interop_pushed_value", "pushed", ["kind"], registry=registry).labels("x").set(123.5)
            push_to_gateway(gw.url, job="scraped_job", registry=registry, grouping_key={"instance": "host-1"})
            config = ("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                      "  - job_name: pushgateway\n    honor_labels: true\n"
                      "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % gw.port)
            with PrometheusServer(workdir, config) as prom:
                result = prom.wait_for("interop_pushed_value")
                self.assertEqual(len(result), 1, "Prometheus never returned the pushed series")
                metric = result[0]["metric"]
                self.assertEqual(metric["job"], "scraped_job")
                self.assertEqual(metric["instance"], "host-1")
                self.assertEqual(metric["kind"], "x")
                self.assertEqual(result[0]["value"][1], "123.5")
                # The scrape itself succeeded (up == 1).
                self.assertEqual([u["value"][1] for u in prom.query("up")], ["1"])
        finally:
            gw.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if not os.path.exists(OURS):
        sys.exit("no gateway binary at %s (build it with cargo build --release)" % OURS)
    unittest.main(verbosity=2)
