#!/usr/bin/env bash
# Runs every cargo-fuzz target of lagtap (fuzz/) and of the parser crates
# (parsers/*/fuzz/), one after the other, each for a number of executions or a time
# limit, and prints per target: executions, speed, coverage (libFuzzer's cov and ft),
# corpus size and crashes. docs/testing.md ("Fuzzing") has the figures of the last
# campaign and says why it runs the way it does.
#
#   fuzz/run-campaigns.sh [-r RUNS] [-t SECONDS] [-s none|address] [-c CPU] [TARGET...]
#
# TARGET is `crate/target` (`rtmp-parser/session`, `lagtap/decode`) or a crate name;
# default: all. Environment: CARGO_TARGET_DIR (default /tmp/target-fuzz, shared by
# all targets), FUZZ_OUT (default /tmp/lagtap-fuzz: corpora, artifacts, logs, and
# summary-TIME.tsv with the table printed at the end; corpora persist between runs,
# so a second campaign continues from the first).
#
# One fuzzer at a time, as one libFuzzer process (no -jobs/-workers: one thread),
# under `nice -n 19` and pinned to one CPU with taskset, so a campaign can run on a
# machine others build on. Builds are niced too.
set -euo pipefail

runs=10000000
seconds=900
sanitizer=none
cpu=1
while getopts "r:t:s:c:h" opt; do
    case $opt in
        r) runs=$OPTARG ;;
        t) seconds=$OPTARG ;;
        s) sanitizer=$OPTARG ;;
        c) cpu=$OPTARG ;;
        *) sed -n '2,18p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-fuzz}
out=${FUZZ_OUT:-/tmp/lagtap-fuzz}
# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module);
# RUSTC_BOOTSTRAP lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
mkdir -p "$out"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 1
fi

# crate directory (holding fuzz/), crate name, target, -max_len, extra seed files (a
# glob under the crate, or -), the test binary whose ignored `write_fuzz_seed_corpus`
# writes fuzz/corpus/TARGET (run when that directory is missing; or -). max_len is
# what makes 10 million executions per target fit in about two hours of one core:
# the stream parsers' cost grows with the input, and a few kilobytes hold every
# header, handshake and state change the seeds show (longer seeds are cut there);
# the capture targets cross their 4 KiB read buffer, and decode takes a seed's
# whole flow.
targets=(
    "parsers/ntp-parser ntp-parser parse 4096 - -"
    "parsers/avc avc nal 1024 - -"
    "parsers/hls-parser hls-parser playlist 2048 tests/data/*.m3u8 -"
    "parsers/irc-parser irc-parser session 2048 - -"
    "parsers/mpegts-parser mpegts-parser demux 4096 - fuzz_seeds"
    "parsers/http-parser http-parser session 4096 - session"
    "parsers/h2-parser h2-parser session 4096 - -"
    "parsers/rtmp-parser rtmp-parser session 4096 - -"
    "parsers/tls-decrypt tls-decrypt session 8192 - fuzz_body"
    ". lagtap capture 8192 - -"
    ". lagtap decode 16384 - -"
)

selected=("$@")
wanted() {
    [ ${#selected[@]} -eq 0 ] && return 0
    for w in "${selected[@]}"; do
        if [ "$w" = "$1" ] || [ "$w" = "$1/$2" ]; then return 0; fi
    done
    return 1
}

summary="$out/summary-$(date -u +%Y%m%dT%H%M%S).tsv"
printf 'target\texecutions\texec/s\tcov\tft\tcorpus\tcrashes\tseconds\texit\n' >"$summary"

for row in "${targets[@]}"; do
    read -r dir crate target max_len extra writer <<<"$row"
    wanted "$crate" "$target" || continue
    name="$crate/$target"
    corpus="$out/corpus/$crate-$target"
    artifacts="$out/artifacts/$crate-$target"
    log="$out/logs/$crate-$target.log"
    mkdir -p "$corpus" "$artifacts" "$out/logs"
    # Seeds: the crate's fuzz/seeds or fuzz/seeds/TARGET (committed),
    # fuzz/corpus/TARGET (what a crate's ignored seed-writing test made), and extra
    # files named in the table.
    if [ "$writer" != "-" ] && [ ! -d "$root/$dir/fuzz/corpus/$target" ]; then
        echo "== $name: writing seeds (cargo test --test $writer)" >&2
        (cd "$root" && nice -n 19 cargo test -q -p "$crate" --test "$writer" -- \
            --ignored write_fuzz_seed_corpus) >"$log.seeds" 2>&1 \
            || { echo "writing seeds failed, see $log.seeds" >&2; exit 1; }
    fi
    seeds=()
    # A crate of several targets keeps each one's seeds in fuzz/seeds/TARGET.
    committed="$root/$dir/fuzz/seeds"
    [ -d "$committed/$target" ] && committed="$committed/$target"
    for s in "$committed" "$root/$dir/fuzz/corpus/$target"; do
        if [ -d "$s" ]; then seeds+=("$s"); fi
    done
    if [ "$extra" != "-" ]; then
        mkdir -p "$out/extra-seeds/$crate-$target"
        # shellcheck disable=SC2086 # the glob is meant to expand
        cp $root/$dir/$extra "$out/extra-seeds/$crate-$target/"
        seeds+=("$out/extra-seeds/$crate-$target")
    fi

    echo "== $name: building (sanitizer $sanitizer)" >&2
    # -a: debug assertions and overflow checks, as in `cargo test`, so an overflow
    # is a finding rather than a silent wrap.
    (cd "$root/$dir" && nice -n 19 cargo fuzz build -O -a --sanitizer "$sanitizer" "$target") \
        >"$log.build" 2>&1 || { echo "build failed, see $log.build" >&2; exit 1; }
    bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$target"

    args=(-runs="$runs" -max_total_time="$seconds" -print_final_stats=1
          -artifact_prefix="$artifacts/" -timeout=30)
    args+=(-max_len="$max_len")
    echo "== $name: fuzzing (${runs} runs or ${seconds} s, cpu $cpu)" >&2
    start=$(date +%s)
    touch "$out/logs/$crate-$target.start"
    status=0
    nice -n 19 taskset -c "$cpu" "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 \
        || status=$?
    elapsed=$(( $(date +%s) - start ))

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # The last status line (`#N DONE cov: C ft: F corp: ...`, or the last `pulse`
    # before a crash) holds the final coverage.
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    inputs=$(find "$corpus" -type f | wc -l)
    # Only what this run found: earlier runs' artifacts stay in the directory.
    crashes=$(find "$artifacts" -type f -newer "$out/logs/$crate-$target.start" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${execs:-?}" "${speed:-?}" \
        "${cov:-?}" "${ft:-?}" "$inputs" "$crashes" "$elapsed" "$status" | tee -a "$summary"
    if [ "$status" -ne 0 ]; then
        echo "   $name stopped with status $status: see $log and $artifacts" >&2
    fi
done

echo >&2
column -t -s $'\t' "$summary"
