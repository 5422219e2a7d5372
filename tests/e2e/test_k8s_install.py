"""`gantry k8s install` / `uninstall` on containerd's own default config (`containerd config
default`), checked by containerd itself (`containerd --config FILE config dump` reads the file
as the daemon does); the refusals; the installer manifests of packaging/k8s. test_cri.py runs
pods through a handler that `gantry k8s install` added (tests/e2e/cri_node.py)."""
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import Gantry, need_tool

REPO = Path(__file__).resolve().parent.parent.parent
CRI = "io.containerd.grpc.v1.cri"
RUNTIME_CLASS = ("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: gantry\n"
                 "handler: gantry\n")


def containerd_view(config):
    """The config as containerd reads it (it exits non-zero on a file it cannot load)."""
    out = subprocess.run(["containerd", "--config", str(config), "config", "dump"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return tomllib.loads(out)["plugins"][CRI]["containerd"]


def test_install_on_containerd_default_config_and_uninstall(tmp_path):
    need_tool("containerd")
    g = Gantry(tmp_path / "store")
    conf = tmp_path / "config.toml"
    original = subprocess.run(["containerd", "config", "default"], capture_output=True,
                              text=True, check=True).stdout
    conf.write_text(original)
    conf.chmod(0o600)
    r = g.run("k8s", "install", "--containerd-config", conf, "--binary", "/usr/bin/gantry-oci",
              "--set-as-default")
    assert r.out == RUNTIME_CLASS
    assert "config.toml.gantry-bak" in r.err, r.err
    assert (tmp_path / "config.toml.gantry-bak").read_text() == original
    assert conf.stat().st_mode & 0o777 == 0o600
    ctr = containerd_view(conf)
    assert ctr["default_runtime_name"] == "gantry"
    rt = ctr["runtimes"]["gantry"]
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == "/usr/bin/gantry-oci"
    assert rt["container_annotations"] == ["cdi.k8s.io/*", "io.gantry.kernel-cache"]
    assert rt["pod_annotations"] == ["io.gantry.kernel-cache"]  # a pod's kernel cache only
    assert ctr["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    # a second run changes nothing, not even the backup
    installed = conf.read_bytes()
    (tmp_path / "config.toml.gantry-bak").unlink()
    again = g.run("k8s", "install", "--containerd-config", conf, "--binary",
                  "/usr/bin/gantry-oci", "--set-as-default")
    assert "nothing to change" in again.err and again.out == RUNTIME_CLASS
    assert conf.read_bytes() == installed
    assert not (tmp_path / "config.toml.gantry-bak").exists()
    # uninstall: the same document as containerd's default (toml++'s layout, no comments)
    g.run("k8s", "uninstall", "--containerd-config", conf)
    assert tomllib.loads(conf.read_text()) == tomllib.loads(original)
    ctr = containerd_view(conf)
    assert "gantry" not in ctr["runtimes"] and ctr["default_runtime_name"] == "runc"


def test_refusals_and_dry_run(tmp_path):
    g = Gantry(tmp_path / "store")
    v1 = tmp_path / "v1.toml"
    v1.write_text('[plugins.cri]\n  sandbox_image = "pause"\n')
    r = g.fail("k8s", "install", "--containerd-config", v1, "--binary", "/usr/bin/gantry-oci",
               code=4)
    assert f"{v1}: a version 1 containerd config" in r.err, r.err
    assert v1.read_text() == '[plugins.cri]\n  sandbox_image = "pause"\n'
    assert not (tmp_path / "v1.toml.gantry-bak").exists() and r.out == ""
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 2\n[plugins\n")
    assert f"{bad}:2: not valid TOML" in g.fail("k8s", "install", "--containerd-config", bad,
                                                 "--binary", "/b/gantry-oci", code=4).err
    g.fail("k8s", "install", "--containerd-config", bad, "--drop-in", tmp_path, code=2)
    g.fail("k8s", "install", "--binary", "/b/gantry-oci", code=2)  # --containerd-config required
    dry = tmp_path / "dry.toml"
    r = g.run("k8s", "install", "--containerd-config", dry, "--binary", "/b/gantry-oci",
              "--dry-run")
    assert not dry.exists() and "dry run" in r.err
    assert tomllib.loads(r.out)["plugins"][CRI]["containerd"]["runtimes"]["gantry"]["options"] \
        == {"BinaryName": "/b/gantry-oci"}


def test_installer_manifests_parse_and_name_the_commands():
    k8s = REPO / "packaging" / "k8s"
    ds = yaml.safe_load((k8s / "gantry-installer.yaml").read_text())
    assert ds["apiVersion"] == "apps/v1" and ds["kind"] == "DaemonSet"
    pod = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"] == ds["spec"]["template"]["metadata"]["labels"]
    assert pod["hostPID"] is True
    (c,) = pod["containers"]
    assert c["securityContext"]["privileged"] is True
    script = c["args"][0]
    assert 'host() { nsenter -t 1 -m -u -i -n -p -- "$@"; }' in script
    assert "host apt-get install -y /var/cache/gantry/gantry.deb" in script
    assert "host gantry k8s install --containerd-config /etc/containerd/config.toml" in script
    assert "host systemctl restart containerd" in script
    assert [v["hostPath"]["path"] for v in pod["volumes"]] == ["/"]
    assert c["volumeMounts"] == [{"name": pod["volumes"][0]["name"], "mountPath": "/host"}]
    rc = yaml.safe_load((k8s / "runtimeclass.yaml").read_text())
    assert rc == yaml.safe_load(RUNTIME_CLASS)
    # the script is valid sh
    subprocess.run(["sh", "-n", "-c", script], check=True)
