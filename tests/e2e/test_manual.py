"""The man pages and completion scripts cannot drift from the parser (issue 42): every command
and every option each command's --help lists (CLI11's own listing of what it parses) is in that
command's man page and in its rows of the bash and zsh completion scripts, as `gantry __generate`
renders them (the build installs exactly those, tests/e2e/test_package.py)."""
import gzip
import os
import re
import subprocess

import pytest

from conftest import GANTRY, load_busybox


def help_of(path):
    p = subprocess.run([GANTRY, *path, "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def parse_help(text):
    """(subcommand names, option names) of one --help text."""
    subs, options, section = [], [], None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line.rstrip(":")
            continue
        m = re.match(r"^  (\S+)", line)
        if not m:
            continue
        if section == "Subcommands":
            subs.append(m.group(1).rstrip(","))  # "images, ls": the name, then its aliases
        elif m.group(1).startswith("-"):
            options += [n for n in m.group(1).split(",") if n.startswith("-")]
    return subs, options


def every_command():
    """{path: option names} for every command at every depth, from --help alone."""
    out, todo = {}, [()]
    while todo:
        path = todo.pop()
        subs, options = parse_help(help_of(path))
        out[path] = options
        assert len(path) < 4, path  # gantry's tree is three deep (apptainer instance start)
        todo += [path + (s,) for s in subs]
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("manual")
    for what in ("man", "bash", "zsh"):
        subprocess.run([GANTRY, "__generate", what, "--output", d], check=True)
    return d


def completion_rows(script, table):
    """{key: words} of one table (_gantry_options, _gantry_subs) of a completion script."""
    body = script.split(f"{table}=(\n", 1)[1].split("\n)\n", 1)[0]
    return {k: v.split() for k, v in re.findall(r"\['([^']*)'\]='([^']*)'", body)}


def test_every_flag_the_parser_takes_is_in_the_man_page_and_the_completions(generated):
    commands = every_command()
    assert len(commands) > 40 and ("system", "prune") in commands and ("oci", "create") in commands
    assert "--gpus" in commands[("run",)]
    scripts = {s: (generated / f).read_text() for s, f in (("bash", "gantry"), ("zsh", "_gantry"))}
    for path, options in commands.items():
        page = (generated / ("-".join(("gantry",) + path) + ".1")).read_text()
        assert options, path
        for o in options:
            assert "\\fB" + o.replace("-", "\\-") + "\\fR" in page, (path, o)
        key = "/".join(("gantry",) + path)
        for shell, script in scripts.items():
            assert set(completion_rows(script, "_gantry_options")[key]) == set(options), \
                (shell, path)
            if path:
                parent = "/".join(("gantry",) + path[:-1])
                assert path[-1] in completion_rows(script, "_gantry_subs")[parent], (shell, path)
    # no page for a command the parser does not have
    pages = {p.name for p in generated.glob("*.1")}
    assert pages == {"-".join(("gantry",) + p) + ".1" for p in commands}


def test_man_pages_render_and_hidden_commands_stay_hidden(generated):
    page = subprocess.run(["man", "-P", "cat", "-l", generated / "gantry-run.1"],
                          capture_output=True, text=True, env={"MANWIDTH": "100", "PATH":
                                                               "/usr/bin:/bin"})
    assert page.returncode == 0 and "gantry-run - Run a command in a new container" in page.stdout
    assert "warning" not in page.stderr
    assert "__generate" not in help_of(()) and "__complete" not in help_of(())
    bad = subprocess.run([GANTRY, "__generate", "pdf"], capture_output=True, text=True)
    assert bad.returncode == 2 and "not man, bash or zsh" in bad.stderr
    # an image store that is not there completes nothing and is not made
    p = subprocess.run([GANTRY, "--root", "/nonexistent/store", "__complete", "images"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == ""


def test_installed_man_pages_are_gzip_of_the_generated(generated):
    built = GANTRY.parent / "generated" / "man1" / "gantry-run.1.gz"
    if not built.exists():
        pytest.fail(f"{built} is missing: build the gantry-docs target (make build-gantry does)")
    assert gzip.decompress(built.read_bytes()).decode() == (generated / "gantry-run.1").read_text()


def test_completion_names_are_the_stores_images_and_the_containers(g, mk, tmp_path):
    load_busybox(g, mk, tmp_path)
    images = g.run("__complete", "images").out.split()
    assert images == ["docker.io/library/sample:latest", "sample:latest"]
    name = f"complete-{os.getpid()}"
    g.run("run", "-d", "--name", name, "sample:latest", "sleep", "30")
    try:
        assert name in g.run("__complete", "containers").out.split()
    finally:
        g.run("rm", "-f", name)
    assert name not in g.run("__complete", "containers").out.split()
    # the bash script asks for them with the line's --root
    script = (GANTRY.parent / "generated" / "completion" / "gantry")
    line = ("source \"$1\"; COMP_WORDS=(gantry --root \"$2\" run sam); COMP_CWORD=4; _gantry; "
            "echo \"${COMPREPLY[*]}\"")
    out = subprocess.run(["bash", "-c", line, "-", script, g.root], capture_output=True, text=True,
                         env=dict(os.environ, PATH=f"{GANTRY.parent}:/usr/bin:/bin"))
    assert out.stdout == "sample:latest\n", out
    # called by its runtime name, gantry-oci completes `gantry oci`'s subcommands
    line = "source \"$1\"; COMP_WORDS=(gantry-oci sta); COMP_CWORD=1; _gantry; echo \"${COMPREPLY[*]}\""
    out = subprocess.run(["bash", "-c", line, "-", script], capture_output=True, text=True)
    assert out.stdout == "start state\n", out
