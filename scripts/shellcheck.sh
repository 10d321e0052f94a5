#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository: *.sh files and files whose first line is a
# sh/bash shebang (scripts/stack, scripts/recordings-dir, .ci/run, ...). Files git does not ignore (git ls-files;
# every file outside build and state folders when the tree is not a git checkout).
# Exit status 0 only if shellcheck reports nothing. Extra shellcheck flags: CES_SHELLCHECK_ARGS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (make setup)" >&2; exit 2; }

list_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard
  else
    find . -path ./.git -prune -o -path './build*' -prune -o -path ./.state -prune -o -type f -print0 | sed -z 's#^\./##'
  fi
}

scripts=()
while IFS= read -r -d '' file; do
  [[ -f "$file" ]] || continue
  case "$file" in
    tests/data/*) continue ;;
    *.sh) scripts+=("$file") ;;
    *) if head -n 1 "$file" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)'; then scripts+=("$file"); fi ;;
  esac
done < <(list_files)

read -ra extra <<< "${CES_SHELLCHECK_ARGS:-}"
echo "shellcheck $(shellcheck --version | awk '/^version:/ {print $2}') on ${#scripts[@]} scripts"
shellcheck "${extra[@]}" "${scripts[@]}"
echo "shellcheck: no findings"
