"""`gantry cdi validate` and `cdi list` on spec files alone (no GPU host): malformed specs are
refused with exit 4 naming the file and the field, and the nvidia-ctk v1.20 spec of
reference/nvidia-driver.md section 2.6 parses.

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
         tests/e2e/test_gpu_cdi_validate.py
"""
import pytest


MALFORMED = {
    "unknown-field": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  bogusField: 1
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "bogusField"),
    "unknown-edit-field": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      hostPth: /dev/nvidia0
""", "deviceNodes[0].hostPth"),
    "bad-kind": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu/extra
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "kind"),
    "kind-without-vendor": ("""\
cdiVersion: 0.5.0
kind: gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "kind"),
    "duplicate-device": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
""", "devices[1].name"),
    "relative-hook-path": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  hooks:
  - hookName: createContainer
    path: bin/gantry
    args: [gantry, hook, update-ldcache]
""", "hooks[0].path"),
    "numeric-name-needs-0.5": ("""\
cdiVersion: 0.3.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
""", "0.5.0"),
    "relative-device-path": ("""\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: gpu0
  containerEdits:
    deviceNodes:
    - path: dev/nvidia0
""", "path"),
    "bad-json": ('{"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": [', None),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_cdi_validate_rejects_malformed_specs(g, tmp_path, case):
    text, field = MALFORMED[case]
    path = tmp_path / (f"{case}.json" if case == "bad-json" else f"{case}.yaml")
    path.write_text(text)
    res = g.run("cdi", "validate", path, check=False)
    assert res.code == 4, res
    assert str(path) in res.err, res
    if field:
        assert field in res.err, f"the message should name {field!r}: {res.err}"


REAL_SPEC = """\
---
cdiVersion: 0.5.0
kind: example.com/device
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {root}/dev/nvidia0
    - name: all
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: {root}/dev/nvidia0
containerEdits:
    env:
        - NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu
        - NVIDIA_VISIBLE_DEVICES=void
    deviceNodes:
        - path: /dev/nvidiactl
          hostPath: {root}/dev/nvidiactl
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so
          env:
            - NVIDIA_CTK_DEBUG=false
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - update-ldcache
            - --folder
            - /lib/x86_64-linux-gnu
          env:
            - NVIDIA_CTK_DEBUG=false
    mounts:
        - hostPath: {root}/lib/x86_64-linux-gnu/libcuda.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/libcuda.so.999.88.77
          options:
            - ro
            - nosuid
            - nodev
            - rbind
            - rprivate
"""


def test_cdi_validate_accepts_nvidia_ctk_spec(g, tmp_path):
    """The nvidia-ctk v1.20 spec of reference/nvidia-driver.md section 2.6 parses."""
    path = tmp_path / "nvidia-ctk.yaml"
    path.write_text(REAL_SPEC.format(root="/driver-root"))
    res = g.run("cdi", "validate", path)
    assert "ok" in res.out and "example.com/device" in res.out and "2 devices" in res.out, res
    listed = g.run("cdi", "list", "--spec-dir", tmp_path).out.split()
    assert listed == ["example.com/device=0", "example.com/device=all"], listed
