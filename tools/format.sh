#!/usr/bin/env bash
# clang-format (Google style, .clang-format) over our C++ sources.
#   tools/format.sh           rewrite files in place
#   tools/format.sh --check   list files that differ and fail (CI)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h')
((${#files[@]})) || exit 0
if [[ ${1:-} == --check ]]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
