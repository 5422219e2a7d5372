"""What tests/e2e/test_run*.py share: the `runner` fixture (each test as root and as an
unprivileged user, with the busybox sample image loaded) and the wait for the trash of
discarded writable layers to be reaped (trash_settled), which the core, cleanup and leak tests
check."""
import os
import time
from pathlib import Path

import pytest

from conftest import load_busybox


@pytest.fixture(params=["root", "rootless"])
def runner(request, g, rootless, mk, tmp_path):
    if request.param == "root":
        if os.geteuid() != 0:
            pytest.skip("needs root")
        gan, where = g, tmp_path
    else:
        gan, where = rootless, rootless.base
    gan.image = load_busybox(gan, mk, where)
    gan.where = Path(where)
    return gan


REAP_BATCH = 16  # store/scratch.hpp kReapBatch


def trash_settled(store, timeout=60):
    """Discarded containers' directories collect in STORE/trash until a batch of REAP_BATCH is
    full, then a detached reaper deletes them all: wait for any reaper to finish and assert no
    full batch was left behind. Returns what is left."""
    trash = store / "trash"
    deadline = time.time() + timeout
    left = []
    seen = None
    while time.time() < deadline:
        # no reaper first, then the listing: listed the other way round, a reaper that ends
        # between the two leaves a stale list of what it was still deleting
        if not reapers(store):
            left = sorted(trash.iterdir()) if trash.exists() else []
            # a reaper just started may not have opened trash/ yet: a full batch means "wait";
            # and the same listing twice, 0.1 s apart, with no reaper seen either time (a rootless
            # reaper's deleting child, in a user namespace, was once missed: 15 of 16 left, CI
            # under load)
            if len(left) < REAP_BATCH and left == seen:
                return left
            seen = left
        else:
            seen = None
        time.sleep(0.1)
    raise AssertionError(f"after {timeout}s: {len(left)} entries in the trash (a full batch was "
                         f"not reaped) or a reaper still runs: {reapers(store)}")


def reapers(store):
    """Processes with the trash directory of this store open (a reaper holds its lock there)."""
    found = []
    trash = str(store / "trash")
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            fds = list((p / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == trash:
                    found.append(p.name)
            except OSError:
                pass
    return found
