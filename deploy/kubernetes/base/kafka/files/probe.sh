#!/bin/bash
# Readiness of a broker: it answers an ApiVersions request on its loopback
# PROBE listener (kubernetes.properties). A broker enables request processing
# only at the end of its start-up (log recovery done, registered with ZooKeeper
# or the KRaft controller), so an open port alone is not enough and this is.
# The in-sync check between the brokers of a roll is roll-kafka.sh (no
# under-replicated partition before the next broker restarts).
# Request: ApiVersions (key 18) v0, correlation id 1, client id "probe".
set -uo pipefail
exec 3<>/dev/tcp/127.0.0.1/9099 || exit 1
printf '\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05probe' >&3
# response: int32 size, int32 correlation id (1), int16 error code (0)
reply=$(timeout 5 head -c 10 <&3 | od -An -tx1 | tr -d ' \n')
exec 3<&- 3>&-
[ "${reply:8:12}" = "000000010000" ]
