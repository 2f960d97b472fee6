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
    damaged file aside and logs at error instead of crash-looping;
  * a real `dpkg -i` into a throwaway root (an overlay over / in a private
    mount namespace, chrooted; the machine's own root is never written):
    it replaces Debian's installed Go package, whose data file the
    installed unit's command then imports, and on a machine without the
    `prometheus` user it creates one.

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


# Mounts a throwaway root: an overlay whose lower layer is the machine's
# root and whose upper layer is a tmpfs, in a private mount namespace, so
# nothing written in it reaches the machine.
THROWAWAY_ROOT = r"""
set -e
t="$1"; shift
mount -t tmpfs tmpfs "$t"
mkdir "$t/upper" "$t/work" "$t/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
mount --bind /proc "$t/root/proc"
mount --bind /dev "$t/root/dev"
mount -t tmpfs tmpfs "$t/root/tmp"
cp "$DEB_FILE" "$t/root/tmp/pkg.deb"
printf '%s' "$SCENARIO" > "$t/root/tmp/scenario.sh"
exec chroot "$t/root" sh /tmp/scenario.sh "$@"
"""

SCENARIO_HELPERS = r"""
set -eu
ready() {
  i=0
  until curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null; do
    i=$((i+1)); [ $i -lt 400 ] || { echo "not ready on $1"; cat "$2"; exit 1; }
    sleep 0.05
  done
}
install_ours() {
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold /tmp/pkg.deb
  echo "STATUS pushgateway-rs=$(dpkg-query -W -f='${db:Status-Abbrev}' pushgateway-rs)" \
       "prometheus-pushgateway=$(dpkg-query -W -f='${db:Status-Abbrev}' prometheus-pushgateway 2>/dev/null || echo none)"
}
"""


def in_throwaway_root(scenario, *args):
    """Runs the shell `scenario` chrooted into a throwaway root holding the
    package as /tmp/pkg.deb; answers its exit status and output."""
    where = tempfile.mkdtemp(prefix="deb-root-")
    env = dict(os.environ, DEB_FILE=os.path.abspath(DEB), SCENARIO=SCENARIO_HELPERS + scenario)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", THROWAWAY_ROOT,
                           "sh", where] + [str(a) for a in args],
                          env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


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
        files = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()
                 if not line.startswith("d")}
        # Exactly these files, binaries executable and the rest not.
        self.assertEqual(files, {
            "/usr/bin/prometheus-pushgateway": "-rwxr-xr-x",
            "/usr/bin/pushgw": "-rwxr-xr-x",
            "/lib/systemd/system/prometheus-pushgateway.service": "-rw-r--r--",
            "/etc/default/prometheus-pushgateway": "-rw-r--r--",
            "/usr/share/man/man1/prometheus-pushgateway.1.gz": "-rw-r--r--",
            "/usr/share/man/man1/pushgw.1.gz": "-rw-r--r--",
            "/usr/share/bash-completion/completions/prometheus-pushgateway": "-rw-r--r--",
            "/usr/share/bash-completion/completions/pushgw": "-rw-r--r--",
            "/usr/share/zsh/vendor-completions/_prometheus-pushgateway": "-rw-r--r--",
            "/usr/share/zsh/vendor-completions/_pushgw": "-rw-r--r--",
            "/usr/share/fish/vendor_completions.d/pushgw.fish": "-rw-r--r--",
            "/usr/share/doc/pushgateway-rs/copyright": "-rw-r--r--",
            "/usr/share/doc/pushgateway-rs/README.md.gz": "-rw-r--r--",
        })
        self.assertIn("./var/lib/prometheus/", listing)
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
        self.assertRegex(lines, r"level=error .*msg=\"could not load persisted metrics\" .*err=")
        self.assertTrue(glob.glob(os.path.join(data, "pushgateway.data.corrupt-*")), os.listdir(data))


    def test_a_real_install_replaces_debians_package_and_imports_its_data(self):
        go_port, ours_port = free_port(), free_port()
        code, out = in_throwaway_root(r"""
# Debian's Go gateway, started as its unit starts it, leaves its data file.
setpriv --reuid=prometheus --regid=prometheus --init-groups /usr/bin/prometheus-pushgateway \
  --web.listen-address=127.0.0.1:$1 >/tmp/go.log 2>&1 &
go=$!
ready $1 /tmp/go.log
printf 'rows{table="users"} 1234\n' | curl -sf -X PUT --data-binary @- "http://127.0.0.1:$1/metrics/job/nightly"
kill -TERM $go; wait $go || true
test -s /var/lib/prometheus/pushgateway.data
install_ours
/usr/bin/prometheus-pushgateway --version | head -1
# Ours, started as the installed unit starts it.
unit=/lib/systemd/system/prometheus-pushgateway.service
user=$(sed -n 's/^User=//p' $unit)
command=$(sed -n 's/^ExecStart=//p' $unit)
binary=${command%% *}
[ "${command#* }" = '$ARGS' ]
. /etc/default/prometheus-pushgateway
setpriv --reuid=$user --regid=$user --init-groups $binary $ARGS --web.listen-address=127.0.0.1:$2 \
  >/tmp/ours.log 2>&1 &
ours=$!
ready $2 /tmp/ours.log
echo "SCRAPE $(curl -sf http://127.0.0.1:$2/metrics | grep '^rows')"
kill -TERM $ours; wait $ours
echo "FILES $(stat -c '%n:%a:%U' /var/lib/prometheus/pushgateway.data /var/lib/prometheus/pushgateway.data.go-backup | tr '\n' ' ')"
""", go_port, ours_port)
        self.assertEqual(code, 0, out)
        # dpkg removed Go's package in favour of ours (left in the
        # config-files state, as dpkg leaves a removed package).
        self.assertRegex(out, r"STATUS pushgateway-rs=ii +prometheus-pushgateway=.c")
        self.assertRegex(out, r"(?m)^pushgateway, version \d")
        self.assertIn('SCRAPE rows{instance="",job="nightly",table="users"} 1234', out)
        files = re.search(r"FILES (.*)", out).group(1).split()
        self.assertEqual(files, ["/var/lib/prometheus/pushgateway.data:600:prometheus",
                                 "/var/lib/prometheus/pushgateway.data.go-backup:600:prometheus"], out)

    def test_a_real_install_creates_the_prometheus_user_when_missing(self):
        code, out = in_throwaway_root(r"""
DEBIAN_FRONTEND=noninteractive dpkg --purge prometheus-pushgateway >/dev/null
userdel prometheus
getent group prometheus >/dev/null && groupdel prometheus
if getent passwd prometheus; then echo "still there"; exit 1; fi
install_ours
echo "USER $(getent passwd prometheus | cut -d: -f1,6,7)"
echo "UID $(id -u prometheus) GROUP $(id -gn prometheus)"
echo "DIR $(stat -c '%U:%G' /var/lib/prometheus)"
""")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"STATUS pushgateway-rs=ii +prometheus-pushgateway=(un|none)")
        self.assertRegex(out, r"USER prometheus:/var/lib/prometheus:/usr/sbin/nologin")
        uid = int(re.search(r"UID (\d+)", out).group(1))
        self.assertLess(uid, 1000, "a system user")
        self.assertIn("GROUP prometheus", out)
        self.assertIn("DIR prometheus:prometheus", out)


if __name__ == "__main__":
    DEB = sys.argv.pop(1)
    unittest.main(verbosity=2)
