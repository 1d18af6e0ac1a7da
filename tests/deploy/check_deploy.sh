#!/usr/bin/env bash
# The Prometheus configuration that deploy/docker-compose.yml mounts is valid for Prometheus, and
# its drift rules record and alert as tests/deploy/drift_rules_test.yml says (promtool, from
# Debian's prometheus package).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
promtool check config "$root/deploy/prometheus/prometheus.yml"
promtool test rules "$root/tests/deploy/drift_rules_test.yml"
