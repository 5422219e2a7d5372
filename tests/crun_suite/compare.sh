#!/bin/sh
# The whole of crun's suite under runc and gantry-oci, and the tests whose results differ.
# usage (root): tests/crun_suite/compare.sh CRUN_SRC GANTRY_BIN [OUTDIR]  (about 15 minutes)
set -eu
src=$1; gantry=$2; out=${3:-/tmp/crun-suite}
here=$(dirname "$(realpath "$0")")
mkdir -p "$out"
ln -sf "$(realpath "$gantry")" "$out/gantry-oci"  # gantry reads `gantry oci` from the name
echo "runc:       $("$here/run.sh" "$src" runc "$out/runc")"
echo "gantry-oci: $("$here/run.sh" "$src" "$out/gantry-oci" "$out/gantry")"
echo "passed with runc, not with gantry-oci:"
awk -F'\t' 'NR == FNR {r[$1 "\t" $2] = $3; next}
            r[$1 "\t" $2] == "ok" && $3 != "ok" {print "  " $1 " " $2 " (" $3 ")"}' \
    "$out/runc/results.tsv" "$out/gantry/results.tsv"
echo "passed with gantry-oci, not with runc:"
awk -F'\t' 'NR == FNR {r[$1 "\t" $2] = $3; next}
            $3 == "ok" && r[$1 "\t" $2] != "ok" {print "  " $1 " " $2 " (" r[$1 "\t" $2] ")"}' \
    "$out/runc/results.tsv" "$out/gantry/results.tsv"
