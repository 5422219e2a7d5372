"""Power loss under the stores at random points (issue 36; tests/fixtures/power_loss.py): each
trial picks a write at random and a random subset of the unflushed writes to keep. STRESS_TRIALS
sets the number of trials (default 30 in the stress suite's budget: ~1.5 s each), STRESS_SEED
the seed; a failure names the trial's crash point and seed, which replay it."""
import os

import pytest
from stresslib import TRIALS, rng_for

from fixtures.power_loss import (CRASH_DISK, check_after_reboot, make_base_disk,
                                 run_until_power_loss, steps)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mounts)")


def test_power_loss_at_random_points(tmp_path, gantry_bin):
    if not CRASH_DISK.exists():
        pytest.fail(f"{CRASH_DISK} is missing: build it (make build-gantry)")
    (tmp_path / "base").mkdir()
    base = make_base_disk(tmp_path / "base")
    work = tmp_path / "work"
    work.mkdir()
    image, done, total = run_until_power_loss(base, work, 0, 0)
    assert done == len(steps(base))
    r = rng_for("power-loss")
    for trial in range(TRIALS):
        point, seed = r.randint(1, total), r.randint(0, 2**31)
        try:
            image, done, _ = run_until_power_loss(base, work, point, seed)
            check_after_reboot(base, work, image, done)
        except AssertionError as e:
            raise AssertionError(f"trial {trial}: crash after write {point}, seed {seed}: {e}")
