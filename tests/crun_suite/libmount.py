"""The part of util-linux's Python libmount binding that crun's tests/test_mounts.py uses
(Debian 12 ships no python3-libmount): Table(PATH) of a mountinfo file, find_target(PATH)
(the last mount on PATH, as libmount's backward search), and an entry's vfs_options (the
per-mount options) and fs_options (the superblock's)."""


class Fs:
    def __init__(self, line):
        left, right = line.split(" - ", 1)
        fields = left.split()
        self.target = fields[4].replace("\\040", " ")
        self.vfs_options = fields[5]
        rest = right.split()
        self.fstype = rest[0]
        self.source = rest[1] if len(rest) > 1 else None
        self.fs_options = rest[2] if len(rest) > 2 else None


class Table:
    def __init__(self, path):
        with open(path) as f:
            self.fs = [Fs(l) for l in f if " - " in l]

    def find_target(self, target):
        for fs in reversed(self.fs):
            if fs.target == target:
                return fs
        return None
