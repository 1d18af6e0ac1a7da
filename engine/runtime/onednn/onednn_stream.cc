#include "engine/runtime/onednn/onednn_stream.h"

#include "engine/runtime/onednn/onednn_common.h"

namespace octet::onednn {

OneDnnStream::OneDnnStream() : stream_(std::make_unique<dnnl::stream>(CpuEngine())) {}

OneDnnStream::~OneDnnStream() = default;

}  // namespace octet::onednn
