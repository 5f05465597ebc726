#!/bin/sh
# Builds the libFuzzer targets of Fuzz/ (AddressSanitizer + libFuzzer, release) and runs one, or all in turn,
# on a copy of its seed corpus.
#
#   Scripts/fuzz.sh                      # list the targets
#   Scripts/fuzz.sh build                # build every target
#   Scripts/fuzz.sh TARGET [SECONDS]     # fuzz one target (default 60 s); TARGET: jpeg png pnm bmp safetensors metadata captions
#   Scripts/fuzz.sh all [SECONDS]        # fuzz every target in turn
#
# Corpora grow in Fuzz/.corpus/TARGET (seeded from committed fixtures and Tests/Corpus/TARGET, the regression
# inputs); findings land in Fuzz/.artifacts/TARGET. Extra libFuzzer flags: FUZZ_FLAGS="-fork=1 -ignore_crashes=1 ..."
# (fork mode keeps fuzzing after a finding); NO_BUILD=1 runs the binaries already built.
# Runs under `nice -n 19`. Requires only the Swift toolchain (Linux: libclang_rt.fuzzer ships with it).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGETS="jpeg png pnm bmp safetensors metadata captions"
BUILD="$ROOT/Fuzz/.build"

max_len() {
    case "$1" in
        jpeg|png) echo 16384 ;;
        pnm|bmp) echo 4096 ;;
        safetensors) echo 16384 ;;
        metadata|captions) echo 4096 ;;
    esac
}

build() {
    [ -z "${NO_BUILD:-}" ] || return 0
    # SwiftPM plans again only when a manifest changed: without this, files added to the root package go unseen.
    touch "$ROOT/Fuzz/Package.swift"
    nice -n 19 swift build --package-path "$ROOT/Fuzz" --scratch-path "$BUILD" -c release \
        --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
        ${1:+--product "fuzz-$1"} >&2
}

# Seeds: the committed decoder fixtures, the regression corpus, and the files the other tests commit.
seed() {
    t=$1; dir=$2
    mkdir -p "$dir"
    case "$t" in
        jpeg) cp Tests/ImageCodecsTests/Fixtures/jpeg/*.jpg "$dir/" ;;
        png) cp Tests/ImageCodecsTests/Fixtures/png/*.png Tests/ImageCodecsTests/Fixtures/hostile/*.png "$dir/" ;;
        pnm) cp Tests/ImageCodecsTests/Fixtures/pnm/*.p?m Tests/ImageCodecsTests/Fixtures/hostile/*.p?m "$dir/" ;;
        bmp) cp Tests/ImageCodecsTests/Fixtures/bmp/*.bmp Tests/ImageCodecsTests/Fixtures/hostile/*.bmp "$dir/" ;;
        safetensors) cp Tests/SafeTensorsTests/Fixtures/*.safetensors Fuzz/Seeds/safetensors/* "$dir/" ;;
        metadata) cp Fuzz/Seeds/metadata/* "$dir/" ;;
        captions) cp Tests/MetricsTests/Fixtures/score_*.txt Fuzz/Seeds/captions/* "$dir/"
                  for f in $(find Tests/CaptioningTests/Fixtures/datasets -type f \( -name '*.txt' -o -name '*.json' \) -size -64k); do
                      cp "$f" "$dir/$(echo "$f" | tr / _)"
                  done ;;
    esac
    if [ -d "Tests/Corpus/$t" ]; then cp Tests/Corpus/$t/* "$dir/" 2>/dev/null || true; fi
}

run() {
    t=$1; seconds=$2
    corpus="$ROOT/Fuzz/.corpus/$t"; artifacts="$ROOT/Fuzz/.artifacts/$t"
    [ -d "$corpus" ] || seed "$t" "$corpus"
    mkdir -p "$artifacts"
    echo "fuzz-$t: ${seconds}s, corpus $corpus, findings in $artifacts" >&2
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" nice -n 19 "$BUILD/release/fuzz-$t" "$corpus" \
        -max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-}
}

case "${1:-}" in
    "") echo "targets: $TARGETS"; echo "usage: Scripts/fuzz.sh build | TARGET [SECONDS] | all [SECONDS]" ;;
    build) build ;;
    all) build; for t in $TARGETS; do run "$t" "${2:-60}"; done ;;
    *) case " $TARGETS " in *" $1 "*) ;; *) echo "error: unknown fuzz target '$1' (targets: $TARGETS)" >&2; exit 2 ;; esac
       build "$1"; run "$1" "${2:-60}" ;;
esac
