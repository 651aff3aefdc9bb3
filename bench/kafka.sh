#!/usr/bin/env bash
# Kafka end to end through the development broker (sluice dev-kafka): a
# pass-through job (kafka-copy) against a bare librdkafka consume-then-produce
# loop on the same broker and input, as records per second and their ratio.
#   bench/kafka.sh SLUICE KAFKA_LOOP [MESSAGES] [PARALLELISM]
# The mock broker keeps only ~5 MiB per partition: MESSAGES stays small
# enough (default 400000 of ~30 bytes over 4 partitions).
set -euo pipefail
sluice=${1:?usage: kafka.sh SLUICE KAFKA_LOOP [MESSAGES] [PARALLELISM]}
loop=${2:?usage: kafka.sh SLUICE KAFKA_LOOP [MESSAGES] [PARALLELISM]}
messages=${3:-400000}
parallelism=${4:-1}
work=$(mktemp -d)
"$sluice" dev-kafka --topic in:4 --topic copy:4 --topic bare:4 --bootstrap-file "$work/boot" \
  >/dev/null 2>"$work/broker.log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
until [ -f "$work/boot" ]; do kill -0 "$broker"; sleep 0.05; done
boot=$(cat "$work/boot")

awk -v n="$messages" 'BEGIN { for (i = 0; i < n; i++) printf "key%d:record-%09d\n", i % 1000, i }' \
  > "$work/input"
kcat -b "$boot" -P -t in -K : -l "$work/input"

bare=$("$loop" "$boot" in bare | sed -n 's/.*"records_per_second":\([0-9]*\).*/\1/p')
copy=$("$sluice" run kafka-copy --set input=kafka:in --set output=kafka:copy \
  --set kafka.bootstrap="$boot" --set kafka.stop=latest --set kafka.fetch.wait.max.ms=10 \
  --set kafka.linger.ms=5 --parallelism "$parallelism" 2>&1 >/dev/null |
  sed -n 's/.*records in (\([0-9]*\)\/s).*/\1/p')
copied=$(kcat -b "$boot" -C -t copy -e -q -X fetch.wait.max.ms=10 | wc -l)
printf '{"bench":"kafka-pass-through","messages":%d,"parallelism":%d,"copied":%d,"sluice_records_per_second":%s,"bare_loop_records_per_second":%s,"ratio":%s}\n' \
  "$messages" "$parallelism" "$copied" "${copy:-0}" "${bare:-0}" \
  "$(awk -v a="${copy:-0}" -v b="${bare:-1}" 'BEGIN { printf "%.2f", a / b }')"
