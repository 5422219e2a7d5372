"""Lazy images where users meet them beyond `gantry run` (issue 40): `gantry rm -f` of a
detached lazy container returns only once its monitor, FUSE server and every holder of the
image's local copies are gone, without making store layers first (a later pull does). The
registry and the eStargz image are test_lazy_pull.py's fixtures."""
import json
import os

import pytest

from conftest import need_tool
from test_lazy_pull import (INSECURE, lazy_ref, no_leftovers, proxy, pushed,  # noqa: F401
                            reg)


@pytest.fixture(scope="module", autouse=True)
def _tools():
    need_tool("docker-registry")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")


def test_rm_f_right_after_a_detached_lazy_start_leaves_nothing(g, pushed, proxy, fuse_open):
    """rm -f at once after `run -d`: when rm returns, nothing is mounted and no process holds
    the store's files (the monitor's exit is awaited, and it makes no store layer of a removed
    container's copies); the image stays a lazy one, which a later pull completes."""
    ref, _ = pushed
    lref = lazy_ref(ref, proxy)
    for _ in range(3):
        g.run("run", "-d", "--name", "lazy-rm", "--pull", "lazy", INSECURE, lref, "sleep", "60")
        g.run("rm", "-f", "lazy-rm")
        no_leftovers(g.root)
        assert g.run("ps", "-a", "-q").out == ""
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" in img, img  # abandoned, not half made into a store image
    g.run("pull", INSECURE, lref)
    (img,) = json.loads(g.run("images", "--json").out)
    assert "lazy" not in img, img
    assert g.run("run", "--rm", lref, "cat", "/data/small.txt").out == "hello lazy\n"
