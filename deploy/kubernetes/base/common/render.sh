#!/bin/bash
# render.sh TEMPLATE [ENV_FILE...]
# Prints TEMPLATE with every ${NAME} placeholder (upper-case name) replaced by
# the value of that variable. ENV_FILE lines (KEY=VALUE, # comments) are read
# first; variables already in the environment (set by the start script for
# this instance) are kept. An unknown placeholder is an error, as in the local
# stack (scripts/stack), which renders the same templates.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

template=${1:?usage: render.sh TEMPLATE [ENV_FILE...]}
shift
for env_file in "$@"; do
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    value=${value%%[[:space:]]#*}                     # trailing comment
    value=${value%"${value##*[![:space:]]}"}          # trailing blanks
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || { echo "render.sh: bad line in $env_file: $line" >&2; exit 1; }
    if [ -z "${!key+set}" ]; then export "$key=$value"; fi
  done < "$env_file"
done

content=$(cat "$template"; echo x)
content=${content%x}
missing=()
# shellcheck disable=SC2016  # a literal ${NAME} pattern, not an expansion
for name in $(grep -o '\${[A-Z_][A-Z0-9_]*}' "$template" | sort -u | tr -d '${}'); do
  if [ -z "${!name+set}" ]; then
    missing+=("$name")
    continue
  fi
  content=${content//"\${$name}"/"${!name}"}
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "render.sh: $template: no value for ${missing[*]}" >&2
  exit 1
fi
printf '%s' "$content"
