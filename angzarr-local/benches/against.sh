#!/usr/bin/env bash
# Runs one of the workspace's rate benches (angzarr-local's end-to-end
# ones, angzarr-client's `handle` and `grpc`) built from two commits,
# alternating in one sitting, and prints, for every row of the tables the
# bench prints, the median of each rate column (`commands/s`, ...) for each
# build and their ratio. On a shared machine a single run swings by tens
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
# The package whose benches/ holds it.
package=angzarr-local
[ -f "$root/angzarr-client/benches/$bench.rs" ] && package=angzarr-client
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/against
mkdir -p "$out"

# Builds the bench in directory $1 into target directory $2 and copies its
# binary to $3.
build() {
    local dir=$1 into=$2 copy=$3 executable
    echo "building $bench in $dir" >&2
    executable=$(cd "$dir" && CARGO_TARGET_DIR=$into cargo bench -p "$package" \
        --bench "$bench" --no-run --message-format=json 2>/dev/null |
        grep '"kind":\["bench"\]' | grep "\"name\":\"$bench\"" |
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
        # Every markdown table whose header has a `.../s` column: a row is
        # named by its other columns (counts, request sizes, latencies and
        # the bench's own ratios left out) and gives one figure per rate
        # column.
        "$out/$bench-$side" --bench >"$out/$bench-$side.txt" 2>"$out/$bench-$side.err" ||
            { echo "the $side run of $bench failed:" >&2; tail -n 5 "$out/$bench-$side.err" >&2; exit 1; }
        awk -F'|' -v side="$side" '
            /^\|/ && /\/s *\|/ {
                for (i = 2; i < NF; i++) {
                    name[i] = $i; gsub(/^ +| +$/, "", name[i])
                    rate[i] = name[i] ~ /\/s$/
                    skip[i] = name[i] ~ /^(commands|request|p50|p99|ratio)$|\// && !rate[i]
                }
                table = 1; next
            }
            /^\|-/ { next }
            /^\|/ && table {
                label = ""
                for (i = 2; i < NF; i++) {
                    if (rate[i] || skip[i]) continue
                    cell = $i; gsub(/^ +| +$/, "", cell)
                    label = label (label == "" ? "" : ", ") cell
                }
                for (i = 2; i < NF; i++) {
                    if (!rate[i]) continue
                    cell = $i; gsub(/[ ,]/, "", cell)
                    print side "\t" label " (" name[i] ")\t" cell
                }
                next
            }
            { table = 0 }' "$out/$bench-$side.txt" >"$out/$bench-$side.rows"
        # Checked per run: an earlier round's rows must not hide a run that
        # printed none.
        [ -s "$out/$bench-$side.rows" ] ||
            { echo "no table with a .../s column in the $side run of $bench" >&2; exit 1; }
        cat "$out/$bench-$side.rows" >>"$results"
    done
done

echo
echo "| $bench row | before (each run) | after | median ratio |"
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
            # A row only one build prints has no ratio.
            printf "| %s |%s |%s | %s |\n", row, runs["before", row], runs["after", row],
                ((b > 0 && a > 0) ? sprintf("%.2fx", a / b) : "-")
        }
    }' "$results"
