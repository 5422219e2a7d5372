"""gantry run --kernel-cache (docs/kernel-caches.md): a JIT's on-disk cache kept per key across
starts. The workload is the mechanism's smallest user: a shell that finds its "compiled" object
in $CCACHE_DIR (a variable gantry points into the cache, as it points CUDA_CACHE_PATH and the
others) or makes it. So a second start prints "hit", and what keys a cache is shown by which
starts hit: the same image on the same (simulated) driver and GPU hits, a changed driver, GPU or
image starts a new key. One writer per key: a reader's writes never reach the cache, the
writer's are published at its exit or at `gantry kernel-cache commit`; concurrent starts of one
key leave one writer's complete set. bench/kernel_cache.sh measures the same mechanism with a
real compiler (ccache over gcc)."""
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import TESTS, Gantry, load_busybox
from fixtures import mkimage as mk

sys.path.insert(0, str(TESTS / "fixtures" / "gpuhost"))
import cuda_image as ci  # noqa: E402
import gpuhost as gh  # noqa: E402

MOUNT = "/var/cache/gantry/kernels"
# as root every test's containers share /run/gantry: names carry this process's token
TOKEN = f"kc{os.getpid()}"
GPU_ENV = ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"]
# a "compile" into the cache: hit with the tag of the start that made it, else miss and make it
WORK = ('f="$CCACHE_DIR/obj"; if [ -f "$f" ]; then echo "hit $(cat "$f")"; '
        'else echo miss; echo "$TAG" > "$f"; fi')


def keys(gan, *extra):
    return gan.run("kernel-cache", "ls", "--json", *extra).json()


def start(gan, image, tag, *flags, check=True):
    return gan.run("run", "--kernel-cache", "-e", f"TAG={tag}", *flags, image, "sh", "-c", WORK,
                   check=check)


@pytest.fixture(scope="module")
def kc(tmp_path_factory, gantry_bin):
    base = tmp_path_factory.mktemp("kcache")
    gan = Gantry(base / "store")
    env = list(mk.DEFAULT_ENV)
    images = [
        (mk.busybox_image(), ["kc/plain:1"]),
        # another image (another digest), the same files
        (mk.busybox_image(env=env + ["VARIANT=2"]), ["kc/other:1"]),
        # an image that sets a cache's variable itself, and one that turns a cache off
        (mk.busybox_image(env=env + ["TRITON_CACHE_DIR=/opt/triton", "CUDA_CACHE_DISABLE=1"]),
         ["kc/own-env:1"]),
        # GPU images that ask for every GPU and require no CUDA (the 550 host serves 12.4)
        (ci.cuda_image(env=env + GPU_ENV), ["kc/cuda:1"]),
        (ci.cuda_image(env=env + GPU_ENV + ["VARIANT=2"]), ["kc/cuda:2"]),
    ]
    archive = base / "images.tar"
    mk.write_docker_archive(archive, images)
    gan.run("load", archive)
    gan.base = base
    return gan


def test_second_start_finds_the_first_starts_work(kc):
    """The writer's additions published at its exit; the variables pointed only where the image
    and -e leave them unset; off by default; the label and the config file choose it too."""
    first = start(kc, "kc/own-env:1", "one")
    assert first.out.splitlines() == ["miss"]
    assert start(kc, "kc/own-env:1", "two").out.splitlines() == ["hit one"]
    [key] = keys(kc)
    assert key["Facts"]["vendor"] == "cpu" and key["Generation"] == "gen-1"
    assert key["Facts"]["image"].startswith("sha256:") and not key["InUse"]
    [inspected] = kc.run("kernel-cache", "inspect", key["Key"][:6]).json()
    assert inspected["Facts"] == key["Facts"] and inspected["Dir"] == key["Dir"]
    assert inspected["Facts"]["host"][0].startswith("machine=")

    env = kc.run("run", "--kernel-cache", "-e", "CUDA_CACHE_PATH=/mine", "kc/own-env:1",
                 "env").out.splitlines()
    assert f"CCACHE_DIR={MOUNT}/ccache" in env
    assert f"VLLM_CACHE_ROOT={MOUNT}/vllm" in env
    # every vendor's own (gpu_vendors::Backend::kernel_cache_variables), whatever the GPUs
    assert f"MIOPEN_USER_DB_PATH={MOUNT}/miopen/db" in env and "NEO_CACHE_PERSISTENT=1" in env
    assert "CUDA_CACHE_MAXSIZE=4294967296" in env
    assert "TRITON_CACHE_DIR=/opt/triton" in env  # the image's wins
    assert "CUDA_CACHE_PATH=/mine" in env  # -e wins
    assert not [e for e in kc.run("run", "kc/own-env:1", "env").out.splitlines()
                if e.startswith("CCACHE_DIR=")]  # off by default

    # docker's CLI and compose set a label; the config file sets the default
    label = kc.run("run", "-l", "io.gantry.kernel-cache=auto", "-e", "TAG=x", "kc/own-env:1",
                   "sh", "-c", WORK)
    assert label.out.splitlines() == ["hit one"]
    elsewhere = kc.base / "caches"
    conf = kc.base / "config.yaml"
    conf.write_text(f"kernel_cache: {elsewhere}\n")
    confd = Gantry(kc.root, env={"GANTRY_CONFIG": str(conf)})
    assert confd.run("run", "-e", "TAG=c", "kc/own-env:1", "sh", "-c",
                     WORK).out.splitlines() == ["miss"]
    assert len(keys(confd)) == 1 and keys(confd)[0]["Dir"].startswith(str(elsewhere))
    assert len(keys(kc)) == 1  # the store's own root untouched

    bad = kc.fail("run", "--kernel-cache=relative/dir", "kc/plain:1", "true", code=2)
    assert "--kernel-cache" in bad.err and "absolute" in bad.err

    df = kc.run("system", "df", "--json").json()["kernel_caches"]
    assert df["keys"] == 1 and df["in_use"] == 0 and df["bytes"] == df["unused_bytes"] > 0
    assert "Kernel caches" in kc.run("system", "df").out
    assert "Removed 1 kernel cache key(s)" in kc.run("system", "prune", "-a", "-f").out
    assert keys(kc) == []


def test_doctor_warns_when_the_image_turns_a_cache_off(kc):
    res = kc.run("doctor", "--json", "kc/own-env:1", check=False)
    found = [f for f in res.json()["findings"] if f["id"] == "KERNEL-CACHE-DISABLED"]
    assert len(found) == 1 and "CUDA_CACHE_DISABLE=1" in found[0]["message"]
    assert "CUDA_CACHE_DISABLE=0" in found[0]["fix"]


def test_keys_change_exactly_when_the_driver_gpu_or_image_does(kc):
    hosts = kc.base / "hosts"
    descs = {"a": gh.preset(1, cc="8.0"), "a-again": gh.preset(1, cc="8.0"),
             "driver-550": gh.preset(1, cc="8.0", driver="550.127.05"),
             "sm90": gh.preset(1, cc="9.0")}
    built = {n: gh.build_host(hosts / n, d) for n, d in descs.items()}
    root = kc.base / "gpu-caches"

    def on(host, image="kc/cuda:1", tag="t"):
        h = built[host]
        g = Gantry(kc.root, env={"FAKE_DEVICE_ROOT": str(h.dev_root)})
        return g.run("run", f"--kernel-cache={root}", "--driver-root", h.driver_root,
                     "--dev-root", h.dev_root, "-e", f"TAG={tag}", image, "sh", "-c",
                     WORK).out.splitlines()

    assert on("a", tag="a") == ["miss"]
    assert on("a") == ["hit a"]
    assert on("a-again") == ["hit a"]  # the same driver and GPU elsewhere: the same key
    assert on("driver-550", tag="550") == ["miss"]
    assert on("driver-550") == ["hit 550"]
    assert on("sm90") == ["miss"]
    assert on("a", image="kc/cuda:2") == ["miss"]
    assert on("a") == ["hit a"]  # the others took nothing from the first key
    facts = [k["Facts"] for k in keys(kc, "--dir", root)]
    assert len(facts) == 4 and all(f["vendor"] == "nvidia" for f in facts)
    seen = sorted((f["host"][0], f["host"][2]) for f in facts)
    assert seen == [("driver=550.127.05", "targets=sm_80"), ("driver=580.95.05", "targets=sm_80"),
                    ("driver=580.95.05", "targets=sm_80"), ("driver=580.95.05", "targets=sm_90")]
    assert len({f["image"] for f in facts}) == 2


def test_one_writer_readers_discard_commit_publishes(kc):
    """A -d writer that never exits: readers see the published generation only and their own
    writes vanish; commit publishes the writer's so far; its exit publishes the rest."""
    root = kc.base / "writer-caches"
    flag = f"--kernel-cache={root}"
    writer = f"{TOKEN}-writer"
    kc.run("run", "-d", "--name", writer, flag, "kc/plain:1", "sh", "-c",
           'echo w1 > "$CCACHE_DIR/w1"; echo ready; exec sleep 600')
    try:
        kc.wait_logged(writer, "ready")
        info = kc.run("inspect", writer).json()[0]["GantryKernelCache"]
        assert info["Role"] == "writer" and info["MountPath"] == MOUNT
        reader = 'ls "$CCACHE_DIR"; echo r > "$CCACHE_DIR/r"'
        assert kc.run("run", flag, "kc/plain:1", "sh", "-c", reader).out.split() == []
        [k] = keys(kc, "--dir", root)
        assert k["Writing"] and k["Key"] == info["Key"]
        busy = kc.fail("kernel-cache", "rm", "--dir", root, k["Key"], code=5)
        assert "in use" in busy.err

        assert kc.run("kernel-cache", "commit", writer).out.strip() == "gen-1"
        assert kc.run("run", flag, "kc/plain:1", "sh", "-c", reader).out.split() == ["w1"]
        kc.run("exec", writer, "sh", "-c", 'echo w2 > "$CCACHE_DIR/w2"')
        kc.run("stop", "-t", "0", writer)
        # now the writer (the key's is free), adding nothing: no generation published
        assert kc.run("run", flag, "kc/plain:1", "sh", "-c",
                      'ls "$CCACHE_DIR"').out.split() == ["w1", "w2"]
    finally:
        kc.run("rm", "-f", writer, check=False)
    gens = sorted(p.name for p in (Path(info["Dir"])).iterdir() if p.name.startswith("gen-"))
    assert gens == ["gen-2", "gen-2.lock"]  # the older generations read by no one: removed
    assert kc.run("kernel-cache", "prune", "-a", "--dir", root).out.startswith("Deleted: ")
    assert keys(kc, "--dir", root) == []


def test_concurrent_starts_corrupt_nothing(kc):
    """Six starts of one key at once, each writing 40 files and checking every file it finds:
    one at a time writes the key; what is published is one writer's whole set, nothing torn."""
    root = kc.base / "race-caches"
    script = ('for f in "$CCACHE_DIR"/*; do [ -f "$f" ] || continue; '
              'c=$(cat "$f"); [ "$c" = "${c%% *} ${f##*/}" ] || echo "torn $f"; done; '
              'i=0; while [ $i -lt 40 ]; do echo "$TAG o$i" > "$CCACHE_DIR/o$i"; i=$((i+1)); '
              'done; echo done')
    procs = [kc.popen("run", f"--kernel-cache={root}", "-e", f"TAG=s{n}", "kc/other:1", "sh",
                      "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.split() == ["done"], (out, err)
    listing = kc.run("run", f"--kernel-cache={root}", "kc/other:1", "sh", "-c",
                     'cat "$CCACHE_DIR"/*').out.splitlines()
    assert len(listing) == 40
    tags = {line.split()[0] for line in listing}
    assert len(tags) == 1 and tags <= {f"s{n}" for n in range(6)}
    assert sorted(line.split()[1] for line in listing) == sorted(f"o{i}" for i in range(40))
    [k] = keys(kc, "--dir", root)
    # a start that attached after a writer had ended wrote the key in turn: its set whole
    assert not k["InUse"] and 1 <= int(k["Generation"][4:]) <= 6
    runs = Path(k["Dir"]) / "runs"
    assert list(runs.iterdir()) == []  # every run's layer gone


def test_rootless_second_start_hits(rootless):
    load_busybox(rootless, mk, rootless.base)
    assert start(rootless, "sample:latest", "r1").out.splitlines() == ["miss"]
    assert start(rootless, "sample:latest", "r2").out.splitlines() == ["hit r1"]
    [k] = keys(rootless)
    assert k["Facts"]["user"] == (os.getuid() if rootless.user is None
                                  else rootless.user.pw_uid)
    assert json.dumps(k["Facts"]).count("cpu") >= 1


def test_a_kept_container_attaches_its_key_at_each_start(kc):
    """create keeps the setting; each `start` attaches the key again: the first start's work is
    published at its end and the second start of the same container finds it."""
    root = kc.base / "kept-caches"
    kept = f"{TOKEN}-kept"
    kc.run("create", "--name", kept, f"--kernel-cache={root}", "-e", "TAG=kept",
           "kc/plain:1", "sh", "-c", WORK)
    try:
        assert kc.run("start", "-a", kept).out.splitlines() == ["miss"]
        assert kc.run("start", "-a", kept).out.splitlines() == ["hit kept"]
        [k] = keys(kc, "--dir", root)
        assert not k["InUse"] and k["Generation"] == "gen-1"
    finally:
        kc.run("rm", "-f", kept, check=False)


def test_a_second_node_starts_from_a_shared_image_store(kc):
    """A key pushed to a shared image store: another node (another store, the same image) that
    reads the store starts from it, its first start a hit; without the store it starts empty.
    A registry is not built: push without --image-store is refused, naming it."""
    shared = kc.base / "shared-store"
    shared.mkdir()
    node_a = kc.base / "node-a-caches"
    assert start(kc, "kc/plain:1", "node-a", f"--kernel-cache={node_a}").out.split() == ["miss"]
    [k] = keys(kc, "--dir", node_a)
    pushed = kc.run("kernel-cache", "push", "--dir", node_a, "--image-store", shared, k["Key"])
    assert pushed.out.strip() == str(shared / "kernel-caches" / k["Key"])

    node_b = Gantry(kc.base / "node-b-store")
    node_b.run("load", kc.base / "images.tar")
    first = node_b.run("--image-store", shared, "run", "--kernel-cache", "-e", "TAG=b",
                       "kc/plain:1", "sh", "-c", WORK)
    assert first.out.splitlines() == ["hit node-a"]
    assert [x["Key"] for x in keys(node_b)] == [k["Key"]]  # the same key on another node
    alone = node_b.run("run", f"--kernel-cache={kc.base / 'node-b-alone'}", "-e", "TAG=c",
                       "kc/plain:1", "sh", "-c", WORK)
    assert alone.out.splitlines() == ["miss"]
    both = kc.fail("kernel-cache", "push", "--dir", node_a, "--image-store", shared,
                   "--repository", "localhost:1/x", k["Key"], code=2)
    assert "one of them" in both.err


def registry_get(reg, path, accept):
    req = urllib.request.Request(f"http://{reg.addr}{path}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def registry_put(reg, path, body, content_type, method="PUT"):
    req = urllib.request.Request(f"http://{reg.addr}{path}", data=body, method=method,
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers


def forge_referrer(reg, repo, image, artifact, facts):
    """An artifact like ARTIFACT whose facts layer is FACTS, put first in IMAGE's referrers
    index (the tag schema's)."""
    blob = json.dumps(facts).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    loc = registry_put(reg, f"/v2/{repo}/blobs/uploads/", b"", "application/octet-stream",
                       "POST")["Location"]
    loc = loc if loc.startswith("http") else f"http://{reg.addr}{loc}"
    req = urllib.request.Request(f"{loc}{'&' if '?' in loc else '?'}digest={digest}", data=blob,
                                 method="PUT", headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=30).close()
    manifest = registry_get(reg, f"/v2/{repo}/manifests/{artifact}",
                            "application/vnd.oci.image.manifest.v1+json")
    manifest["layers"][0].update(digest=digest, size=len(blob))
    body = json.dumps(manifest).encode()
    forged = "sha256:" + hashlib.sha256(body).hexdigest()
    registry_put(reg, f"/v2/{repo}/manifests/{forged}", body,
                 "application/vnd.oci.image.manifest.v1+json")
    tag = f"/v2/{repo}/manifests/sha256-{image[7:]}"
    index = registry_get(reg, tag, "application/vnd.oci.image.index.v1+json")
    entry = dict(index["manifests"][0], digest=forged, size=len(body))
    index["manifests"].insert(0, entry)
    registry_put(reg, tag, json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json")


def first_key_of(kc, repo, tag, node_dir):
    """Node A's key: REPO:1 pushed from kc's store and pulled back (a loaded image's manifest is
    not the one a push makes: the key is the registry's manifest's), then started once on
    NODE_DIR (a miss, TAG written). Returns `kernel-cache ls`'s entry of it."""
    kc.run("push", "--tls-verify=false", "kc/plain:1", f"{repo}:1")
    kc.run("pull", "--tls-verify=false", f"{repo}:1")
    assert start(kc, f"{repo}:1", tag, f"--kernel-cache={node_dir}").out.split() == ["miss"]
    [k] = keys(kc, "--dir", node_dir)
    return k


def registry_node_env(tmp_path, addr):
    """(the environment of a node that trusts ADDR without TLS, the path of a config file that
    says kernel_cache_registry: true)."""
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{addr}"\ninsecure = true\n')
    config = tmp_path / "config.yaml"
    config.write_text("kernel_cache_registry: true\n")
    return {"CONTAINERS_REGISTRIES_CONF": str(conf)}, config


def test_a_second_node_starts_from_the_registrys_artifact(kc, tmp_path):
    """A key pushed to the image's repository as an OCI artifact whose subject is the image's
    manifest: docker-registry 2.8 has no referrers API, so the referrers tag schema's index
    (tag sha256-HEX) lists it. Another node, which pulled the image from that registry and whose
    config file says kernel_cache_registry: true, starts its first start of the key from it (a
    hit); without the setting it starts empty. An artifact whose facts make another key is passed
    over with a warning, and the sound one after it used."""
    from fixtures.registry.harness import Registry
    reg = Registry(tmp_path / "reg").start()
    try:
        repo = f"{reg.addr}/kc/plain"
        node_a = kc.base / "node-a-registry"
        k = first_key_of(kc, repo, "from-a", node_a)  # node A runs the registry's image
        # a second name in another repository: which one is asked for
        kc.run("tag", f"{repo}:1", "kc/pulled:1")
        unknown = kc.fail("kernel-cache", "push", "--dir", node_a, k["Key"], code=2)
        assert "several repositories" in unknown.err and "--repository" in unknown.err
        kc.run("rmi", "kc/pulled:1")
        # the one repository of the store's image with the key's manifest
        pushed = kc.run("kernel-cache", "push", "--tls-verify=false", "--dir", node_a, k["Key"])
        ref, artifact = pushed.out.strip().split("@")
        assert ref == repo and artifact.startswith("sha256:")
        image = k["Facts"]["image"]
        index = registry_get(reg, f"/v2/kc/plain/manifests/sha256-{image[7:]}",
                             "application/vnd.oci.image.index.v1+json")
        [entry] = index["manifests"]
        assert entry["digest"] == artifact
        assert entry["artifactType"] == "application/vnd.gantry.kernel-cache.v1"
        assert entry["annotations"]["io.gantry.kernel-cache.key"] == k["Key"]
        manifest = registry_get(reg, f"/v2/kc/plain/manifests/{artifact}",
                                "application/vnd.oci.image.manifest.v1+json")
        assert manifest["subject"]["digest"] == image

        env, config = registry_node_env(tmp_path, reg.addr)
        node_b = Gantry(tmp_path / "node-b", env=dict(env, GANTRY_CONFIG=str(config)))
        node_b.run("pull", f"{repo}:1")
        first = node_b.run("run", "--kernel-cache", "-e", "TAG=b", f"{repo}:1", "sh", "-c", WORK)
        assert first.out.splitlines() == ["hit from-a"], first
        assert [x["Key"] for x in keys(node_b)] == [k["Key"]]
        # a forged artifact first in the index, labelled with the key but holding another
        # key's facts: passed over with a warning, the sound one after it used
        forge_referrer(reg, "kc/plain", image, artifact, dict(k["Facts"], user=4242))
        node_d = Gantry(tmp_path / "node-d", env=dict(env, GANTRY_CONFIG=str(config)))
        node_d.run("pull", f"{repo}:1")
        forged = node_d.run("run", "--kernel-cache", "-e", "TAG=d", f"{repo}:1", "sh", "-c", WORK)
        assert forged.out.splitlines() == ["hit from-a"], forged
        assert "facts make another key" in forged.err
        # without kernel_cache_registry: no registry is asked, the key starts empty
        node_c = Gantry(tmp_path / "node-c", env=env)
        node_c.run("pull", f"{repo}:1")
        alone = node_c.run("run", "--kernel-cache", "-e", "TAG=c", f"{repo}:1", "sh", "-c", WORK)
        assert alone.out.splitlines() == ["miss"]
    finally:
        reg.stop()


def test_a_registry_that_serves_the_referrers_api(kc, tmp_path):
    """A registry with distribution-spec 1.1's referrers API (the proxy's --referrers mode over
    docker-registry 2.8, tests/fixtures/registry/proxy.py): the push is answered with
    OCI-Subject, so no fallback tag is written, and another node's first start finds the
    artifact through GET /v2/NAME/referrers/DIGEST?artifactType=..., a hit."""
    import urllib.error
    from fixtures.registry.harness import Proxy, Registry
    reg = Registry(tmp_path / "reg").start()
    proxy = Proxy(tmp_path / "proxy", reg.addr, referrers=True).start()
    try:
        repo = f"{proxy.addr}/kc/plain"
        node_a = kc.base / "node-a-referrers"
        k = first_key_of(kc, repo, "api", node_a)
        image = k["Facts"]["image"]
        pushed = kc.run("kernel-cache", "push", "--tls-verify=false", "--dir", node_a, k["Key"],
                        "--repository", repo)
        artifact = pushed.out.strip().split("@")[1]
        # the registry indexed it: no tag schema's index was written
        with pytest.raises(urllib.error.HTTPError) as no_tag:
            registry_get(reg, f"/v2/kc/plain/manifests/sha256-{image[7:]}",
                         "application/vnd.oci.image.index.v1+json")
        assert no_tag.value.code == 404
        env, config = registry_node_env(tmp_path, proxy.addr)
        node_b = Gantry(tmp_path / "node-b", env=dict(env, GANTRY_CONFIG=str(config)))
        node_b.run("pull", f"{repo}:1")
        proxy.clear_log()
        first = node_b.run("run", "--kernel-cache", "-e", "TAG=b", f"{repo}:1", "sh", "-c", WORK)
        assert first.out.splitlines() == ["hit api"], first
        asked = [r["path"] for r in proxy.requests() if "/referrers/" in r["path"]]
        assert asked and asked[0].startswith(f"/v2/kc/plain/referrers/{image}"), asked
        assert any(r["path"].endswith(artifact) for r in proxy.requests()), proxy.requests()
    finally:
        proxy.stop()
        reg.stop()
