// libFuzzer target: any bytes given to the importer and the runtime's support check end in a
// Graph or a Status, never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/kernel_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<octet::Graph> graph =
      octet::ImportOnnxModel(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (graph.ok()) octet::CheckGraphSupported(*graph).IgnoreError();
  return 0;
}
