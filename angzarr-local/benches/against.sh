#!/usr/bin/env bash
# Runs one of angzarr-local's end-to-end benches built from two commits,
# alternating in one sitting, and prints the median commands/s of every row
# for each and their ratio. On a shared machine a single run swings by tens
# of percent; alternating builds in one sitting is what makes two comparable.
#
#   angzarr-local/benches/against.sh BEFORE [AFTER] [ROUNDS] [BENCH]
#
# BEFORE and AFTER are git revisions (AFTER defaults to the working tree,
# uncommitted changes included), ROUNDS defaults to 3 and BENCH to `local`.
# The working tree builds in this checkout's target directory, a revision in
# a target directory of its own under target/against/ (cargo names a
# workspace's artifacts without their path, and judges freshness by time, so
# one shared directory could hand one side the other's binary); the bench
# binaries are copied to target/against/.
set -euo pipefail

before=${1:?usage: against.sh BEFORE [AFTER] [ROUNDS] [BENCH]}
after=${2:-}
rounds=${3:-3}
bench=${4:-local}

root=$(git rev-parse --show-toplevel)
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/against
mkdir -p "$out"

# Builds the bench in directory $1 into target directory $2 and copies its
# binary to $3.
build() {
    local dir=$1 into=$2 copy=$3 executable
    echo "building $bench in $dir" >&2
    executable=$(cd "$dir" && CARGO_TARGET_DIR=$into cargo bench -p angzarr-local \
        --bench "$bench" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    [ -n "$executable" ] || { echo "no $bench bench built in $dir" >&2; exit 1; }
    rm -f "$copy"
    cp "$executable" "$copy"
}

worktree() {
    local rev=$1 dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/against.XXXXXX")
    git -C "$root" worktree add --quiet --detach "$dir" "$rev"
    echo "$dir"
}

trees=()
cleanup() {
    for dir in "${trees[@]}"; do
        git -C "$root" worktree remove --force "$dir" || true
    done
}
trap cleanup EXIT

dir=$(worktree "$before")
trees+=("$dir")
build "$dir" "$out/target-before" "$out/$bench-before"
if [ -n "$after" ]; then
    dir=$(worktree "$after")
    trees+=("$dir")
    build "$dir" "$out/target-after" "$out/$bench-after"
else
    build "$root" "$target" "$out/$bench-after"
fi
if cmp -s "$out/$bench-before" "$out/$bench-after"; then
    echo "note: both builds gave the same binary" >&2
fi

results=$out/$bench-results.txt
: >"$results"
for round in $(seq 1 "$rounds"); do
    for side in before after; do
        echo "round $round/$rounds: $side" >&2
        # Table rows: | name | clients | commands | commands/s | ...
        "$out/$bench-$side" --bench 2>/dev/null |
            awk -F'|' -v side="$side" '
                NF > 5 && $4 ~ /^ *[0-9]+ *$/ && $5 ~ /^ *[0-9.]+ *$/ {
                    gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/ /, "", $5)
                    print side "\t" $2 ", " $3 " clients\t" $5
                }' >>"$results"
    done
done

echo
echo "| $bench row | before (commands/s, each run) | after | median ratio |"
echo "|---|---|---|---:|"
awk -F'\t' '
    function median(list,    n, values, i, j, t) {
        n = split(list, values, " ")
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if (values[j] + 0 < values[i] + 0) { t = values[i]; values[i] = values[j]; values[j] = t }
        return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
    }
    !($2 in seen) { seen[$2] = 1; order[++rows] = $2 }
    { runs[$1, $2] = runs[$1, $2] " " $3 }
    END {
        for (r = 1; r <= rows; r++) {
            row = order[r]
            b = median(runs["before", row]); a = median(runs["after", row])
            printf "| %s |%s |%s | %.2fx |\n", row, runs["before", row], runs["after", row], (b > 0 ? a / b : 0)
        }
    }' "$results"
