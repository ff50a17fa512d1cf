#!/usr/bin/env bash
# Lists every line of a Rust file (tracked, or new and not ignored) longer than 120 columns
# (rustfmt.toml's max_width, which rustfmt cannot enforce inside `view!` macros or long string
# literals) as `path:line: N columns`, and fails if there is any. Columns are characters, not bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

long=$(git ls-files -z --cached --others --exclude-standard '*.rs' | xargs -0 -r perl -CSD -ne \
  'chomp; printf "%s:%d: %d columns\n", $ARGV, $., length if length > 120; close ARGV if eof')
if [[ -n $long ]]; then
  echo "$long"
  echo "FAILED: lines over 120 columns (break them by hand: rustfmt leaves these alone)" >&2
  exit 1
fi
