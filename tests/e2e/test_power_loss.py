"""Power loss under the stores (issue 36): tests/fixtures/power_loss.py says what is run and
checked. Six crash points spread over the sequence's writes, fixed seeds (tests/stress/
test_power_loss.py runs random ones)."""
import os

import pytest

from fixtures.power_loss import (CRASH_DISK, check_after_reboot, make_base_disk,
                                 run_until_power_loss, steps)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mounts)")


@pytest.fixture(scope="module")
def base_disk(tmp_path_factory, gantry_bin):
    if not CRASH_DISK.exists():
        pytest.fail(f"{CRASH_DISK} is missing: build it (make build-gantry)")
    return make_base_disk(tmp_path_factory.mktemp("power"))


@pytest.fixture(scope="module")
def total_writes(base_disk, tmp_path_factory):
    """How many writes the whole sequence makes on a disk that keeps its power; and that a
    sequence with no power loss passes the same checks."""
    work = tmp_path_factory.mktemp("nocrash")
    image, done, writes = run_until_power_loss(base_disk, work, 0, 0)
    assert done == len(steps(base_disk))
    check_after_reboot(base_disk, work, image, done)
    return writes


@pytest.mark.parametrize("point", range(1, 7))
def test_power_loss_leaves_every_image_right_or_named(base_disk, total_writes, tmp_path, point):
    crash_after = max(1, total_writes * point // 7)
    image, done, _ = run_until_power_loss(base_disk, tmp_path, crash_after, seed=point)
    check_after_reboot(base_disk, tmp_path, image, done)
