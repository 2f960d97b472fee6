"""Tests of the container image built by scripts/build-image (podman): its
configuration is the upstream image's shape (uid 65534, WORKDIR /pushgateway,
port 9091, ENTRYPOINT /bin/pushgateway, no shell), and the image serves,
persists into its working directory as nobody, and stops cleanly.

  PODMAN_OPTS=--storage-driver=vfs python3 tests/package/test_image.py localhost/pushgateway:0.1.0
"""
import json, os, shlex, socket, subprocess, sys, time, unittest
import urllib.request

IMAGE = None
HERE = os.path.dirname(os.path.abspath(__file__))


def podman(*args, check=True):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(HERE, "containers.conf"))
    command = ["podman"] + shlex.split(os.environ.get("PODMAN_OPTS", "")) + list(args)
    return subprocess.run(command, capture_output=True, text=True, check=check, env=env, timeout=120)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Image(unittest.TestCase):
    def test_configuration_has_the_upstream_shape(self):
        config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
        self.assertEqual(config["User"], "65534")
        self.assertEqual(config["WorkingDir"], "/pushgateway")
        self.assertEqual(config["Entrypoint"], ["/bin/pushgateway"])
        self.assertIn("9091/tcp", config["ExposedPorts"])
        # No shell: the image holds the binary, the data folder and the licence.
        out = podman("run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", IMAGE, "-c", "true", check=False)
        self.assertNotEqual(out.returncode, 0)

    def test_it_serves_and_persists_as_nobody(self):
        port = free_port()
        name = "pushgateway-image-test-%d" % port
        podman("run", "-d", "--name", name, "--network", "host", IMAGE,
               "--web.listen-address=127.0.0.1:%d" % port, "--persistence.file=pushgateway.data")
        try:
            deadline = time.time() + 20
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                self.assertLess(time.time(), deadline, podman("logs", name, check=False).stderr)
                time.sleep(0.1)
            req = urllib.request.Request("http://127.0.0.1:%d/metrics/job/image" % port,
                                         data=b"# TYPE built gauge\nbuilt 1\n", method="PUT")
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 200)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
                self.assertIn('built{instance="",job="image"} 1', r.read().decode())
            podman("stop", "-t", "20", name)
            state = json.loads(podman("inspect", name).stdout)[0]["State"]
            self.assertEqual(state["ExitCode"], 0)
            logs = podman("logs", name).stderr + podman("logs", name).stdout
            self.assertIn('msg="metrics persisted" file=pushgateway.data', logs)
            listing = podman("run", "--rm", "--network", "host", "--entrypoint", "/bin/pushgateway", IMAGE,
                             "--version").stdout
            self.assertTrue(listing.startswith("pushgateway, version "), listing)
        finally:
            podman("rm", "-f", name, check=False)


if __name__ == "__main__":
    IMAGE = sys.argv.pop(1)
    unittest.main(verbosity=2)
