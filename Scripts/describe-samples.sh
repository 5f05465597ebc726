#!/usr/bin/env bash
# Regenerates the "What the shipped model says" table of README.md from the photos in Samples/
# with the model in Models/ (run after the model changes). Prints the Markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product caption >/dev/null
bin=.build/release/caption
echo "| photo | beam 3 | greedy |"
echo "| --- | --- | --- |"
for f in Samples/*.jpg Samples/*.png; do
  b3=$("$bin" describe "$f" --beam 3 | cut -f2)
  g=$("$bin" describe "$f" --beam 1 | cut -f2)
  echo "| \`$(basename "$f")\` | $b3 | $g |"
done
