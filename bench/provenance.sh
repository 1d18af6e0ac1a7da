#!/usr/bin/env bash
# Prints what a benchmark table needs beside it: the command, commit, date and CPU that made it.
#   bench/provenance.sh COMMAND...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=AVX2
case " $flags " in *" avx512_vnni "*) isa="AVX-512 VNNI" ;; *" avx_vnni "*) isa="AVX-VNNI" ;; esac
case " $flags " in *" avx2 "*) ;; *) isa="no AVX2" ;; esac
echo "- command: \`$*\`"
echo "- commit: $commit"
echo "- date: $(date -u +%Y-%m-%d)"
cap=""
[ -n "${ONEDNN_MAX_CPU_ISA:-}" ] && cap=", ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA"
echo "- CPU: $cpu ($isa), $(nproc) cores$cap"
echo
