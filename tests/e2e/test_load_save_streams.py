"""gantry load and save on docker's streams. load: `-i FILE`, `< FILE`, a pipe and `-`
(docker load reads standard input when it names no file). A stream is copied into the store's
tmp/ while it is loaded (an archive is read out of order) and nothing of it is left; a
terminal, an empty stream and two archives are refused, and errors name standard input, not
the copy. save: standard output when -o is not given."""
import subprocess

from conftest import tmp_entries
from fixtures import mkimage as mk

REF = "docker.io/library/sample:latest"


def load_from(g, stdin, *args):
    return subprocess.run(g.cmd("load", *args), stdin=stdin, capture_output=True, text=True,
                          env=g.environ(), timeout=120)


def piped(g, data: bytes, *args):
    """gantry load *args with DATA on a pipe (not seekable: the spooled path)."""
    p = subprocess.Popen(g.cmd("load", *args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=False, env=g.environ())
    out, err = p.communicate(data, timeout=120)
    return p.returncode, out.decode(), err.decode()


def test_load_i_file_redirect_pipe_and_dash(g, tmp_path):
    img = mk.busybox_image(compression="gzip")
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(img, ["sample:latest"])], layer_compression="gzip")
    r = g.run("load", "-i", path)
    assert f"Loaded image: {REF}" in r.out, r
    want = g.refs()
    g.run("rmi", "sample:latest")

    with open(path, "rb") as f:
        r = load_from(g, f)
    assert r.returncode == 0 and f"Loaded image: {REF}" in r.stdout, r
    assert g.refs() == want
    g.run("rmi", "sample:latest")

    for args in ([], ["-"], ["-i", "-"]):
        code, out, err = piped(g, path.read_bytes(), *args)
        assert code == 0 and f"Loaded image: {REF}" in out, (args, code, out, err)
        assert g.refs() == want
        assert tmp_entries(g.root) == [], args  # the copy went with its descriptor
        g.run("rmi", "sample:latest")

    # the same file twice is one archive; two different ones are refused
    assert f"Loaded image: {REF}" in g.run("load", "-i", path, path).out
    r = g.fail("load", "-i", path, tmp_path / "other.tar", code=2)
    assert "two archives given" in r.err and "other.tar" in r.err, r


def test_unnamed_oci_archive_on_a_pipe_is_named_image_or_by_name(g, tmp_path):
    img = mk.busybox_image(compression="gzip")
    path = tmp_path / "layout.tar"
    mk.write_oci_archive(path, img)  # no org.opencontainers.image.ref.name
    code, out, err = piped(g, path.read_bytes())
    assert code == 0 and "Loaded image: localhost/image:latest" in out, (code, out, err)
    code, out, err = piped(g, path.read_bytes(), "--name", "team/tool")
    assert code == 0 and "Loaded image: docker.io/team/tool:latest" in out, (code, out, err)


def test_empty_stream_terminal_and_damage_are_refused_naming_standard_input(g, tmp_path):
    code, out, err = piped(g, b"")
    assert code == 4 and "standard input is empty" in err and "gantry load -i FILE" in err, err
    # a terminal: nothing is read from it (docker: "requested load from stdin, but stdin is
    # empty"); `script` gives the command a pseudo-terminal as its standard input
    cmd = " ".join(map(str, g.cmd("load")))
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                       env=g.environ(), timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "cannot load from standard input: it is a terminal" in r.stdout, r
    code, out, err = piped(g, b"not an archive at all\n" * 64)
    assert code == 4 and "standard input" in err and "/proc/self/fd" not in err, err
    assert tmp_entries(g.root) == []
    assert g.refs() == {}


def test_squashfs_image_on_a_pipe_needs_a_name(g, tmp_path):
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(mk.busybox_image(compression="gzip"), ["sample:latest"])],
                            layer_compression="gzip")
    g.run("load", "-q", path)
    g.run("save", "--format", "squashfs", "-o", tmp_path / "s.sqsh", "sample:latest")
    data = (tmp_path / "s.sqsh").read_bytes()
    code, out, err = piped(g, data)
    assert code == 2 and "has no file name" in err and "--name NAME[:TAG]" in err, err
    code, out, err = piped(g, data, "--name", "sq:1")
    assert code == 0 and "Loaded image: docker.io/library/sq:1" in out, (code, out, err)
    assert g.run("run", "--rm", "sq:1", "echo", "ran").out == "ran\n"
    assert tmp_entries(g.root) == []


def test_save_streams_to_standard_output_as_docker_save(g, tmp_path):
    """docker save IMAGE > FILE: the tar on standard output, the same bytes -o writes; a
    terminal there is refused, as docker's "cowardly refusing"; an oci-dir or a squashfs file
    needs -o."""
    path = tmp_path / "sample.tar"
    mk.write_docker_archive(path, [(mk.busybox_image(compression="gzip"), ["sample:latest"])],
                            layer_compression="gzip")
    g.run("load", "-q", path)
    for fmt in ("docker-archive", "oci-archive"):
        g.run("save", "--format", fmt, "-o", tmp_path / f"{fmt}.tar", "sample:latest")
        with open(tmp_path / f"{fmt}-stdout.tar", "wb") as f:
            p = subprocess.run(g.cmd("save", "--format", fmt, "sample:latest"), stdout=f,
                               stderr=subprocess.PIPE, text=False, env=g.environ(), timeout=60)
        assert p.returncode == 0 and b"standard output" in p.stderr, p
        assert (tmp_path / f"{fmt}-stdout.tar").read_bytes() == \
            (tmp_path / f"{fmt}.tar").read_bytes(), fmt
    # a pipe straight into a load (another store)
    other = tmp_path / "other"
    save = subprocess.Popen(g.cmd("save", "sample:latest"), stdout=subprocess.PIPE,
                            env=g.environ())
    env = dict(g.environ(), GANTRY_ROOT=str(other))
    r = subprocess.run(g.cmd("load"), stdin=save.stdout, capture_output=True, text=True,
                       env=env, timeout=60)
    save.stdout.close()
    assert save.wait(timeout=60) == 0 and r.returncode == 0, r
    assert f"Loaded image: {REF}" in r.stdout, r
    cmd = " ".join(map(str, g.cmd("save", "sample:latest")))
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                       env=g.environ(), timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "standard output, which is a terminal" in r.stdout, r
    for fmt in ("oci-dir", "squashfs"):
        r = subprocess.run(g.cmd("save", "--format", fmt, "sample:latest"),
                           capture_output=True, text=True, env=g.environ(), timeout=60)
        assert r.returncode == 2 and "-o" in r.stderr, (fmt, r)
