#!/bin/bash
# probe.sh live|ready - four-letter-word checks on the local client port
# (ruok and srvr are in 4lw.commands.whitelist of zoo.cfg.tmpl).
#   live:  `ruok` answers `imok` (the process works; no quorum needed)
#   ready: `srvr` reports a Mode (leader, follower or standalone), i.e. the
#          member serves requests; without a quorum it answers "not currently serving".
set -uo pipefail
ask() {
  exec 3<>/dev/tcp/127.0.0.1/2181 || return 1
  printf '%s' "$1" >&3
  timeout 4 cat <&3
  exec 3<&- 3>&-
}
case "${1:-}" in
  live)  [ "$(ask ruok)" = "imok" ] ;;
  ready) ask srvr | grep -q '^Mode: ' ;;
  *) echo "usage: probe.sh live|ready" >&2; exit 2 ;;
esac
