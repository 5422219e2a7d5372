"""What gantry prints as text carries no line of someone else's (issue 73, docs/printed-text.md):
a label, an image's env or history, a command's arguments or a name that holds a newline, a
carriage return, an escape sequence (ESC [2J clears a terminal), a C1 control (NEL) or the
Unicode line separator U+2028 is printed with those escaped as Go's %q escapes them (`\\n`,
`\\r`, `\\x1b`, `\\u0085`, `\\u2028`), so each command prints exactly its own lines and no raw
control byte; JSON output ({{json .}}, --json) stays JSON and holds the value itself.
Output is read as bytes: Python's text mode would turn a raw \\r into a line end and hide it."""
import json
import os
import subprocess
import time

import pytest

from conftest import Gantry, load_busybox
from fixtures import mkimage

TOKEN = f"pt{os.getpid()}"
HOSTILE = "a\nFORGED line\rb\x1b[2Jc\u2028d\u0085e"
ESCAPED = r"a\nFORGED line\rb\x1b[2Jc\u2028d\u0085e"
NAME = f"{TOKEN}-c"


def run_bytes(g, *args, check=True):
    """gantry ARGS: (exit status, stdout, stderr) as bytes."""
    p = subprocess.run(g.cmd(*args), capture_output=True, env=g.environ(), timeout=300)
    if check:
        assert p.returncode == 0, f"gantry {args}: {p.returncode} {p.stdout!r} {p.stderr!r}"
    return p.returncode, p.stdout, p.stderr


def assert_lines(out, n):
    """OUT (bytes) is N whole lines holding no control byte but their ends, no DEL, no C1
    control and no U+2028/U+2029; returns them as text."""
    assert out.endswith(b"\n") or n == 0, out
    assert out.count(b"\n") == n, out
    for b in out.replace(b"\n", b""):
        assert b >= 0x20 and b != 0x7F, f"raw byte {b:#x} in {out!r}"
    text = out.decode()
    for c in ("\u0085", "\u2028", "\u2029"):
        assert c not in text, f"raw {c!r} in {text!r}"
    return text.splitlines()


@pytest.fixture(scope="module")
def g(tmp_path_factory, gantry_bin):
    tmp = tmp_path_factory.mktemp("printed-text")
    g = Gantry(tmp / "store")
    load_busybox(g, mkimage, tmp, labels={"evil": HOSTILE, f"key{HOSTILE}": "v"},
                 env=["PATH=/bin", f"EVIL={HOSTILE}"], history=[f"/bin/sh -c {HOSTILE}"])
    g.started = time.time()
    # a container whose label, and whose command's argument ($0 of sh -c), are hostile
    g.run("run", "-d", "--name", NAME, "-l", f"evil2={HOSTILE}", "sample:latest", "sh", "-c",
          "sleep 300", HOSTILE)
    yield g
    g.run("rm", "-f", NAME, check=False)


def test_events_prints_one_line_per_event_whatever_a_label_holds(g):
    window = ["--since", f"{g.started:.9f}", "--until", f"{time.time():.9f}",
              "--filter", f"container={NAME}"]
    # docker's line: the attack of issue 73 was a label printing a second, forged event line
    _, out, _ = run_bytes(g, "events", *window)
    lines = assert_lines(out, out.count(b"\n"))
    assert [ln.split(" ")[2] for ln in lines][:2] == ["create", "start"], lines
    _, raw, _ = run_bytes(g, "events", *window, "--format", "{{json .}}")
    # a JSON line per event: C1 and U+2028 escaped too, so even Python's splitlines sees one
    events = [json.loads(line) for line in assert_lines(raw, raw.count(b"\n"))]
    assert len(events) == len(lines)
    assert all(e["Actor"]["Attributes"]["evil2"] == HOSTILE for e in events)  # JSON: the value
    for line, e in zip(lines, events):
        assert f" container {e['Action']} {e['id']} (" in line, line
        assert f"evil={ESCAPED}" in line and f"evil2={ESCAPED}" in line, line
        assert f"key{ESCAPED}=v" in line, line


def test_ps_rows_and_templates_escape_labels_and_commands(g):
    where = ["--filter", f"name={NAME}"]
    _, out, _ = run_bytes(g, "ps", "--no-trunc", *where)
    [_, row] = assert_lines(out, 2)
    # COMMAND as docker prints it, strconv.Quote'd: its arguments' newline escaped
    assert f'"sh -c sleep 300 {ESCAPED}"' in row, row
    _, out, _ = run_bytes(g, "ps", "--no-trunc", *where, "--format",
                          "{{.Command}}|{{.Label \"evil2\"}}")
    assert assert_lines(out, 1) == [f'"sh -c sleep 300 {ESCAPED}"|{ESCAPED}']
    _, out, _ = run_bytes(g, "ps", *where, "--format", "table {{.Names}}\\t{{.Labels}}")
    [head, row] = assert_lines(out, 2)
    assert head.startswith("NAMES") and row.startswith(NAME) and f"evil2={ESCAPED}" in row
    # the template's own line ends stay: one line per label
    _, out, _ = run_bytes(g, "inspect", "--format",
                          "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}\n{{end}}", NAME)
    labels = assert_lines(out, 4)  # and inspect's own newline after the object's output
    assert f"evil2={ESCAPED}" in labels and f"key{ESCAPED}=v" in labels
    # JSON stays JSON, the value itself
    _, out, _ = run_bytes(g, "ps", *where, "--format", "{{json .}}")
    assert f"evil2={HOSTILE}" in json.loads(out)["Labels"]
    _, out, _ = run_bytes(g, "inspect", "--format", "{{json .Config.Labels}}", NAME)
    assert json.loads(out)["evil2"] == HOSTILE
    assert g.run("ps", "-a", "--json", *where).json()[0]["labels"]["evil2"] == HOSTILE


def test_inspect_templates_escape_an_images_env(g):
    _, out, _ = run_bytes(g, "inspect", "--type", "image", "--format",
                          "{{range .Config.Env}}{{println .}}{{end}}", "sample:latest")
    # a line per variable, then the newline docker's inspect ends each object's output with
    assert assert_lines(out, 3) == ["PATH=/bin", f"EVIL={ESCAPED}", ""]
    _, out, _ = run_bytes(g, "inspect", "--type", "image", "--format", "{{.Config.Env}}",
                          "sample:latest")
    assert assert_lines(out, 1) == [f"[PATH=/bin EVIL={ESCAPED}]"]
    _, out, _ = run_bytes(g, "inspect", "--type", "image", "--format", "{{json .Config.Env}}",
                          "sample:latest")
    assert json.loads(out) == ["PATH=/bin", f"EVIL={HOSTILE}"]


def test_inspect_and_history_print_an_images_values_escaped(g):
    _, out, _ = run_bytes(g, "inspect", "sample:latest")
    lines = assert_lines(out, out.count(b"\n"))
    assert any(ln.startswith("Env:") and "EVIL=" in ln for ln in lines), lines
    assert f"  /bin/sh -c {ESCAPED}" in lines, lines
    _, out, _ = run_bytes(g, "history", "--no-trunc", "sample:latest")
    [_, row] = assert_lines(out, 2)
    assert f"/bin/sh -c {ESCAPED}" in row, row


def test_an_error_quoting_a_name_prints_its_own_two_lines(g):
    for args in (["inspect", HOSTILE], ["rm", HOSTILE], ["logs", HOSTILE], ["stop", HOSTILE],
                 ["run", "--name", HOSTILE, "sample:latest", "true"]):
        code, out, err = run_bytes(g, *args, check=False)
        assert code != 0 and out == b"", (args, out, err)
        [msg, hint] = assert_lines(err, 2)
        assert msg.startswith("gantry: error: ") and ESCAPED in msg, (args, msg)
        assert hint.startswith("hint: "), (args, hint)


def test_a_failed_run_steps_last_lines_are_escaped_lines(g, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM sample:latest\nRUN printf 'one\\033[2J\\rX\\ntwo\\n'; exit 3\n")
    code, _, err = run_bytes(g, "build", "-q", "-t", f"{TOKEN}-b", str(ctx), check=False)
    assert code == 125, err
    lines = assert_lines(err, err.count(b"\n"))
    at = next(i for i, ln in enumerate(lines) if ln.startswith("gantry: error: "))
    assert lines[at].endswith("exit status 3; its last output:"), lines
    assert lines[at + 1:at + 4] == ["  one\\x1b[2J\\rX", "  two", "hint: fix the command; "
                                    "nothing was tagged"], lines


def test_analyze_report_escapes_a_layers_paths_and_steps(g, tmp_path):
    files = {f"data/big{HOSTILE}.bin": b"B" * 2_000_000}
    img = mkimage.Image([mkimage.Layer.from_files(files)], history=[f"RUN {HOSTILE}"])
    archive = tmp_path / "analyze.tar"
    mkimage.write_docker_archive(archive, [(img, ["hostile/analyze:1"])])
    g.run("load", archive)
    _, out, _ = run_bytes(g, "analyze", "hostile/analyze:1", "--large-file", "2MB")
    lines = assert_lines(out, out.count(b"\n"))
    assert any(ln.endswith(f"  /data/big{ESCAPED}.bin") for ln in lines), lines
    layer_row = next(ln for ln in lines if ln.startswith("1 "))
    assert "RUN a" in layer_row and "\\x1b[2J" in layer_row, layer_row


def test_a_failed_stage_built_beside_another_keeps_its_lines(g, tmp_path):
    # --jobs 2: each independent stage in a child process, its error carried back to the parent
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM sample:latest AS a\nRUN printf 'one\\033[2J\\n'; exit 4\n"
        "FROM sample:latest AS b\nRUN true\n"
        "FROM sample:latest\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n")
    code, _, err = run_bytes(g, "build", "-q", "--jobs", "2", "-t", f"{TOKEN}-j", str(ctx),
                             check=False)
    assert code == 125, err
    lines = assert_lines(err, err.count(b"\n"))
    at = next(i for i, ln in enumerate(lines) if ln.startswith("gantry: error: "))
    assert lines[at].endswith("exit status 4; its last output:"), lines
    assert lines[at + 1:] == ["  one\\x1b[2J", "hint: fix the command; nothing was tagged"], lines
