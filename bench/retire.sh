# shellcheck shell=bash
# Sourced by the benches that write a store per timed run (pull.sh, load.sh, durability.sh,
# ab_load.sh): a run's output is moved aside, not removed, until the bench ends.
#
# Why: ext4 without a journal (this project's VM's root file system) skips, when it allocates an
# inode, every inode freed in the last 60 s (300 s while that inode's table block is dirty),
# reading each candidate's block to see when it was freed (fs/ext4/ialloc.c, recently_deleted()).
# A run that starts right after the previous run's 18,000 files were removed pays for that scan
# (find_get_block_common and recently_deleted were ~9% of an unsynced pull's samples), a cost a
# first pull on a node does not pay, and one that weighs differently on each tool's time.
# docs/storage.md, "The benches' own deletions", has the measurement.
#
#   retire PATH         moves PATH (a file or a directory, if there) into $RETIRED/<nanoseconds>
#   retire_cmd DIR      a shell command line, for hyperfine's --prepare: retires DIR, then
#                       creates it again, empty
#   retire_cleanup      removes $RETIRED (call it last: the removal is what the runs avoided)
#
# RETIRED must be set by the caller, on the same file system as the directories it retires. The
# disk needs room for every run's output at once (pull.sh --runs 3: ~14 GB; durability.sh
# --rounds 7: ~25 GB of the full image's stores and floor files).

retire() {
    : "${RETIRED:?retire.sh: RETIRED is not set}"
    mkdir -p "$RETIRED"
    if [[ -e $1 ]]; then mv "$1" "$RETIRED/$(date +%s%N)"; fi
}

retire_cmd() {
    : "${RETIRED:?retire.sh: RETIRED is not set}"
    local d r
    d=$(printf '%q' "$1")
    r=$(printf '%q' "$RETIRED")
    printf '%s' "mkdir -p $r && { [ ! -e $d ] || mv $d $r/\$(date +%s%N); } && mkdir -p $d"
}

retire_cleanup() {
    if [[ -n ${RETIRED:-} && -d $RETIRED ]]; then rm -rf "$RETIRED"; fi
}
