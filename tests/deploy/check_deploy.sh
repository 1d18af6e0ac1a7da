#!/usr/bin/env bash
# deploy/'s monitoring configuration, checked with promtool (Debian's prometheus package): the
# Prometheus configuration that deploy/docker-compose.yml mounts is valid, its drift rules record
# and alert as tests/deploy/drift_rules_test.yml says, and every query of the Grafana dashboard
# parses as PromQL.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
promtool check config "$root/deploy/prometheus/prometheus.yml"
promtool test rules "$root/tests/deploy/drift_rules_test.yml"
# The dashboard's queries as recording rules: promtool parses each one.
dashboard="$root/deploy/grafana/dashboards/octet.json"
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  n=0
  sed -n 's/^ *"expr": "\(.*\)",\{0,1\}$/\1/p' "$dashboard" | while IFS= read -r expr; do
    n=$((n + 1))
    printf "      - record: dashboard:query_%d\n        expr: '%s'\n" "$n" "${expr//\\\"/\"}"
  done
} > "$work/dashboard_rules.yml"
queries=$(grep -c 'record:' "$work/dashboard_rules.yml" || true)
[ "$queries" -gt 0 ] || { echo "no query found in $dashboard"; exit 1; }
promtool check rules "$work/dashboard_rules.yml"
echo "$queries dashboard queries parse"
