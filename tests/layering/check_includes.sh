#!/usr/bin/env bash
# Checks the include graph against the layers of docs/design.md:
#  - only engine/runtime/onednn/ includes oneDNN's headers (bench/ times oneDNN primitives as a
#    peer and may too);
#  - an engine or server file includes only its own layer and the layers below it (the server's
#    store and metrics, then its core, then the gRPC services; tests beside the code link more
#    and are exempt);
#  - the engine includes nothing of the server, the client, gRPC, Prometheus or the wire protos;
#  - the client includes of the engine only tensors and file readers.
# Prints every violation as FILE:LINE: reason and exits 1 when there is one.
#   tests/layering/check_includes.sh [SOURCE_DIR]     (default: the repository)
#   tests/layering/check_includes.sh --self-test      (plants each kind of violation, expects it found)
set -euo pipefail

# The engine's layers, lowest first. A file may include a lower layer or its own.
layer_of() {
  case "$1" in
    engine/base/* | engine/tensor/*) echo "0 tensor" ;;
    engine/io/*) echo "1 io" ;;
    engine/ir/*) echo "1 ir" ;;
    engine/onnx/*) echo "2 onnx" ;;
    engine/passes/*) echo "2 passes" ;;
    engine/artifact/*) echo "2 artifact" ;;
    engine/runtime/kernel.h | engine/runtime/op_definition.* | engine/runtime/op_families.h | \
      engine/runtime/linear_algebra.h) echo "3 kernel_api" ;;
    engine/runtime/cpu/*) echo "4 cpu" ;;
    engine/runtime/onednn/*) echo "5 onednn" ;;
    engine/runtime/*) echo "6 runtime" ;;
    engine/quant/*) echo "7 quant" ;;
    engine/*) echo "8 engine" ;;
    server/store/*) echo "10 store" ;;
    server/metrics/*) echo "10 metrics" ;;
    server/core/*) echo "11 core" ;;
    server/services/*) echo "12 services" ;;
    server/*) echo "13 server" ;;
    *) echo "" ;;
  esac
}

check() {
  local root=$1 violations=0 file line number included
  while IFS=: read -r file number line; do
    included=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<< "$line")
    report() { echo "$file:$number: $1 ($included)"; violations=$((violations + 1)); }
    case "$included" in
      dnnl.hpp | dnnl.h | dnnl_*.h* | oneapi/dnnl/*)
        case "$file" in engine/runtime/onednn/* | bench/*) ;; *) report "oneDNN outside engine/runtime/onednn" ;; esac
        continue ;;
    esac
    case "$file" in
      engine/* | server/*)
        case "$file:$included" in
          engine/*:server/* | engine/*:client/* | engine/*:grpc* | engine/*:prometheus/* | \
            engine/*:octet/v1/* | engine/*:inference/*)
            report "the engine includes no server, client, gRPC, Prometheus or wire protos"
            continue ;;
        esac
        case "$file" in *_test.cc | */testing/*) continue ;; esac
        case "$included" in engine/* | server/*) ;; *) continue ;; esac
        local from to
        from=$(layer_of "$file")
        to=$(layer_of "$included")
        if [ -n "$from" ] && [ -n "$to" ] && [ "${from#* }" != "${to#* }" ] &&
           [ "${to%% *}" -ge "${from%% *}" ]; then
          report "layer ${from#* } includes layer ${to#* }, which is not below it"
        fi ;;
      client/*)
        case "$included" in
          engine/tensor/* | engine/io/* | engine/base/*) ;;
          engine/*) report "the client includes only engine/tensor, engine/io and engine/base" ;;
        esac ;;
    esac
  done < <(cd "$root" && grep -rnE --include='*.h' --include='*.cc' --include='*.cpp' \
             '^[[:space:]]*#[[:space:]]*include' engine server client tests bench 2>/dev/null || true)
  if [ "$violations" -gt 0 ]; then
    echo "$violations include(s) break the layering (docs/design.md)"
    return 1
  fi
  echo "include layering: no violation"
}

self_test() {
  local tree expected found
  tree=$(mktemp -d)
  trap 'rm -rf "$tree"' RETURN
  mkdir -p "$tree"/engine/{tensor,ir,quant,runtime/cpu,runtime/onednn} "$tree"/server "$tree"/client \
    "$tree"/bench
  printf '#include "dnnl.hpp"\n' > "$tree/engine/runtime/onednn/fine.cc"
  printf '#include "oneapi/dnnl/dnnl.h"\n' > "$tree/bench/fine.cc"
  printf '#include "engine/tensor/tensor.h"\n#include "engine/ir/graph.h"\n' > "$tree/engine/quant/fine.cc"
  printf '#include "oneapi/dnnl/dnnl.h"\n' > "$tree/engine/quant/planted_dnnl.cc"
  printf '#include "dnnl.hpp"\n' > "$tree/server/planted_dnnl.cc"
  printf '#include "engine/runtime/onednn/onednn_common.h"\n' > "$tree/engine/runtime/cpu/planted_up.cc"
  printf '#include "engine/quant/calibrator.h"\n' > "$tree/engine/runtime/planted_up.cc"
  printf '#include "engine/ir/graph.h"\n' > "$tree/engine/tensor/planted_up.cc"
  printf '#include "octet/v1/common.pb.h"\n' > "$tree/engine/ir/planted_proto.cc"
  printf '#include "engine/runtime/session.h"\n' > "$tree/client/planted_engine.cc"
  mkdir -p "$tree"/server/{store,core,services}
  printf '#include "server/store/blob_store.h"\n#include "engine/runtime/session.h"\n' > "$tree/server/core/fine.cc"
  printf '#include "server/services/grpc_status.h"\n' > "$tree/server/core/planted_up.cc"
  printf '#include "server/core/model_registry.h"\n' > "$tree/server/store/planted_up.cc"
  expected=$(cd "$tree" && ls engine/*/planted_* engine/runtime/*/planted_* engine/runtime/planted_* \
               server/planted_* server/*/planted_* client/planted_* 2>/dev/null | sort -u)
  found=$(check "$tree" | sed -n 's/:[0-9]*: .*//p' | sort -u) || true
  if [ "$found" != "$expected" ]; then
    echo "self-test: expected violations in"; echo "$expected"; echo "found in"; echo "$found"
    return 1
  fi
  echo "self-test: every planted violation found, nothing else"
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
else
  check "${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
fi
