# Shared by the throughput benchmarks (sourced, not run): lab captures made of
# time-shifted copies of bundled ones, timing with peak memory, and the results
# table with MB/s and ratios. Needs $work (a scratch dir), $size_mb, /usr/bin/time
# and tshark's editcap, mergecap and capinfos.

# measure LABEL RUNS COMMAND...: prints "LABEL SECONDS MAXRSS_KB", best of RUNS.
measure() {
    local label=$1 runs=$2; shift 2
    local best=999999 rss=0 t0 t1 s
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$work/time.txt" "$@" > /dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
        t1=$(date +%s%N)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (b < a) ? b : a }')
        rss=$(cat "$work/time.txt")
    done
    echo "$label $best $rss"
}

# report MB REF_INDEX REF_NAME RESULT...: one row per result, ratios against the
# result at REF_INDEX.
report() {
    local mb=$1 ref_index=$2 ref_name=$3; shift 3
    local rows=("$@") ref
    printf '%-16s %10s %10s %12s %14s\n' what seconds MB/s peak-MB "vs $ref_name"
    ref=$(echo "${rows[$ref_index]}" | awk '{print $2}')
    for r in "${rows[@]}"; do
        # shellcheck disable=SC2086 # a result is three words
        set -- $r
        awk -v n="$1" -v s="$2" -v k="$3" -v mb="$mb" -v l="$ref" \
            'BEGIN { s = (s < 0.001) ? 0.001 : s; printf "%-16s %10.3f %10.0f %12.1f %13.2fx\n", n, s, mb / s, k / 1024, s / l }'
    done
}

# lab_capture OUT SRC...: appends time-shifted copies of the sources, one after the
# other in time (so capture time only moves forward), until OUT is SIZE_MB. The first
# copy starts at LAB_START (epoch seconds, default 1800000000).
lab_capture() {
    local out=$1; shift
    [ -s "$out" ] && return 0
    local cursor=${LAB_START:-1800000000} parts=() total=0 i=0 src start dur
    echo "making $out from time-shifted copies of $* ..." >&2
    while [ "$total" -lt $((size_mb * 1000000)) ]; do
        for src in "$@"; do
            start=$(capinfos -a -S -T -r "$src" | awk -F'\t' '{ print int($2) }')
            dur=$(capinfos -u -T -r "$src" | awk -F'\t' '{ print int($2) + 10 }')
            editcap -F pcap -t $((cursor - start)) "$src" "$work/part$i.pcap"
            parts+=("$work/part$i.pcap")
            total=$((total + $(stat -c %s "$src")))
            cursor=$((cursor + dur))
            i=$((i + 1))
        done
    done
    mergecap -a -F pcap -w "$out" "${parts[@]}"
    rm -f "${parts[@]}"
}
