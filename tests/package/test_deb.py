"""Tests of the Debian package built by scripts/build-deb, without touching
the machine's own Go gateway or its files:

  * control fields and file list (dpkg-deb), conffiles, the unit's shape and
    `systemd-analyze verify`;
  * the packaged binary, unpacked into a throwaway root, started as the unit
    starts it (EnvironmentFile, ExecStart with $ARGS, as User=prometheus)
    in a mount namespace whose /var/lib/prometheus is a temporary folder
    holding a persistence file written by Debian's Go gateway: it imports
    that file from its default path, keeps the Go file, and carries on;
  * the same start on a damaged file: it serves what is readable, keeps the
    damaged file aside and logs at error instead of crash-looping.

  python3 tests/package/test_deb.py target/deb/pushgateway-rs_*.deb
"""
import glob, json, os, pwd, re, shlex, signal, socket, subprocess, sys, tempfile, time
import unittest
import urllib.request

DEB = None


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.read().decode()


def put(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body.encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def wait_ready(port, proc, log):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("exited with %s: %s" % (proc.returncode, read(log)))
        try:
            if get(port, "/-/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("not ready: " + read(log))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


def pushed(text):
    """The pushed samples of a scrape, push times left out."""
    return sorted(l for l in text.splitlines()
                  if l and not l.startswith("#") and not l.startswith(("go_", "process_", "pushgateway_"))
                  and not l.startswith(("push_time_seconds", "push_failure_time_seconds")))


class Package(unittest.TestCase):
    logs = []

    def log_file(self, path):
        f = open(path, "w")
        self.logs.append(f)
        return f

    @classmethod
    def tearDownClass(cls):
        for f in cls.logs:
            f.close()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="deb-test-")
        cls.root = os.path.join(cls.tmp, "root")
        subprocess.run(["dpkg-deb", "-x", DEB, cls.root], check=True)
        cls.control = subprocess.run(["dpkg-deb", "-f", DEB], check=True, capture_output=True, text=True).stdout

    def field(self, name):
        m = re.search(r"^%s: (.*)$" % name, self.control, re.M)
        return m.group(1) if m else None

    def test_control_replaces_debians_package(self):
        self.assertEqual(self.field("Package"), "pushgateway-rs")
        for f in ("Provides", "Conflicts", "Replaces"):
            self.assertEqual(self.field(f), "prometheus-pushgateway", f)
        self.assertIn("adduser", self.field("Depends"))
        conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", DEB], check=True, capture_output=True).stdout
        self.assertIn(b"/etc/default/prometheus-pushgateway", conffiles)

    def test_file_list(self):
        listing = subprocess.run(["dpkg-deb", "-c", DEB], check=True, capture_output=True, text=True).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for path in [
            "/usr/bin/prometheus-pushgateway", "/usr/bin/pushgw",
            "/lib/systemd/system/prometheus-pushgateway.service",
            "/etc/default/prometheus-pushgateway",
            "/usr/share/man/man1/prometheus-pushgateway.1.gz", "/usr/share/man/man1/pushgw.1.gz",
            "/usr/share/bash-completion/completions/prometheus-pushgateway",
            "/usr/share/bash-completion/completions/pushgw",
            "/usr/share/zsh/vendor-completions/_prometheus-pushgateway",
            "/usr/share/zsh/vendor-completions/_pushgw",
            "/usr/share/doc/pushgateway-rs/copyright",
        ]:
            self.assertIn(path, files)
        for page in ("prometheus-pushgateway", "pushgw"):
            out = subprocess.run(["man", "-l", "-Tutf8", os.path.join(self.root, "usr/share/man/man1/%s.1.gz" % page)],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("NAME", re.sub(".\b", "", out.stdout))

    def unit(self):
        return read(os.path.join(self.root, "lib/systemd/system/prometheus-pushgateway.service"))

    def test_unit_has_debians_shape_and_verifies(self):
        unit = self.unit()
        for line in ["User=prometheus", "EnvironmentFile=/etc/default/prometheus-pushgateway",
                     "ExecStart=/usr/bin/prometheus-pushgateway $ARGS", "ExecReload=/bin/kill -HUP $MAINPID"]:
            self.assertIn(line + "\n", unit)
        path = os.path.join(self.tmp, "prometheus-pushgateway.service")
        with open(path, "w") as f:
            f.write(unit)
        out = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("prometheus-pushgateway.service:", out.stdout + out.stderr)

    def test_binary_has_debians_defaults(self):
        binary = os.path.join(self.root, "usr/bin/prometheus-pushgateway")
        help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
        self.assertIn('--persistence.file="/var/lib/prometheus/pushgateway.data"', help_text)
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertTrue(version.startswith("pushgateway, version "), version)

    def start_as_the_unit(self, data, port, log):
        """ExecStart with the EnvironmentFile's ARGS, as User=prometheus,
        with `data` mounted on /var/lib/prometheus in a mount namespace."""
        unit = self.unit()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        defaults = read(os.path.join(self.root, "etc/default/prometheus-pushgateway"))
        self.assertIn('\nARGS=""\n', defaults)
        # The shipped ARGS is empty; the test adds only a free port.
        args = "--web.listen-address=127.0.0.1:%d" % port
        command = exec_start.replace("$ARGS", args).replace(
            "/usr/bin/prometheus-pushgateway", os.path.join(self.root, "usr/bin/prometheus-pushgateway"))
        user = re.search(r"^User=(.*)$", unit, re.M).group(1)
        account = pwd.getpwnam(user)
        os.chown(data, account.pw_uid, account.pw_gid)
        for name in os.listdir(data):
            os.chown(os.path.join(data, name), account.pw_uid, account.pw_gid)
        script = "mount --bind %s /var/lib/prometheus && exec setpriv --reuid=%d --regid=%d --init-groups %s" % (
            shlex.quote(data), account.pw_uid, account.pw_gid, command)
        return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                stdout=subprocess.DEVNULL, stderr=self.log_file(log))

    def go_file(self, data):
        """Debian's Go gateway writes a persistence file into `data`."""
        port = free_port()
        log = os.path.join(self.tmp, "go.log")
        go = subprocess.Popen(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:%d" % port,
                               "--persistence.file=%s/pushgateway.data" % data],
                              stdout=subprocess.DEVNULL, stderr=self.log_file(log))
        try:
            wait_ready(port, go, log)
            self.assertEqual(put(port, "/metrics/job/nightly/host/db1",
                                 "# TYPE rows gauge\nrows{table=\"users\"} 1234\n"), 200)
            self.assertEqual(put(port, "/metrics/job/etl", "# TYPE done_total counter\ndone_total 3\n"), 200)
            scraped = pushed(get(port, "/metrics")[1])
        finally:
            stop(go)
        self.assertTrue(os.path.getsize(os.path.join(data, "pushgateway.data")) > 0, read(log))
        return scraped

    def test_started_as_the_unit_it_imports_the_go_file_at_debians_path(self):
        data = tempfile.mkdtemp(dir=self.tmp)
        go_metrics = self.go_file(data)
        go_bytes = read(os.path.join(data, "pushgateway.data"), "rb")
        port, log = free_port(), os.path.join(self.tmp, "ours.log")
        ours = self.start_as_the_unit(data, port, log)
        try:
            wait_ready(port, ours, log)
            self.assertEqual(pushed(get(port, "/metrics")[1]), go_metrics)
            self.assertEqual(put(port, "/metrics/job/after", "later 1\n"), 200)
        finally:
            stop(ours)
        self.assertEqual(ours.returncode, 0, read(log))
        backup = os.path.join(data, "pushgateway.data.go-backup")
        self.assertEqual(read(backup, "rb"), go_bytes)
        ours_file = os.path.join(data, "pushgateway.data")
        self.assertTrue(read(ours_file, "rb").startswith(b"PGWSNAP1"))
        self.assertEqual(os.stat(ours_file).st_mode & 0o777, 0o600)
        self.assertEqual(pwd.getpwuid(os.stat(ours_file).st_uid).pw_name, "prometheus")

    def test_a_damaged_file_does_not_stop_the_service(self):
        data = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(data, "pushgateway.data"), "wb") as f:
            f.write(b"PGWSNAP1" + os.urandom(4096))
        port, log = free_port(), os.path.join(self.tmp, "damaged.log")
        ours = self.start_as_the_unit(data, port, log)
        try:
            wait_ready(port, ours, log)
            self.assertEqual(put(port, "/metrics/job/fresh", "m 1\n"), 200)
        finally:
            stop(ours)
        lines = read(log)
        self.assertRegex(lines, r"level=error .*persistence file damaged")
        self.assertTrue(glob.glob(os.path.join(data, "pushgateway.data.corrupt-*")), os.listdir(data))


if __name__ == "__main__":
    DEB = sys.argv.pop(1)
    unittest.main(verbosity=2)
