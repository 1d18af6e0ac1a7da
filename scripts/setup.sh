#!/usr/bin/env bash
# Installs the Debian 12 packages Octet needs, and only those missing (fast when nothing is).
#   scripts/setup.sh            build and runtime packages (deploy/packages/build.txt)
#   scripts/setup.sh --tests    also the test-only packages (deploy/packages/test.txt)
#   scripts/setup.sh --demo     also the data of scripts/run.sh's demo (deploy/packages/demo.txt)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lists=("$root/deploy/packages/build.txt")
for arg in "$@"; do
  case "$arg" in
    --tests) lists+=("$root/deploy/packages/test.txt") ;;
    --fixtures) lists+=("$root/deploy/packages/fixtures.txt") ;;
    --demo) lists+=("$root/deploy/packages/demo.txt") ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for package in $(sed -e 's/#.*//' "${lists[@]}"); do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup.sh: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
