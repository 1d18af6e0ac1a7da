#ifndef OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_STREAM_H_
#define OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_STREAM_H_

#include <memory>

namespace dnnl {
struct stream;
}

namespace octet::onednn {

// Owns a oneDNN CPU stream without exposing dnnl.hpp to the code that holds one. Not thread-safe:
// one per concurrent Run.
class OneDnnStream {
 public:
  OneDnnStream();
  ~OneDnnStream();
  OneDnnStream(const OneDnnStream&) = delete;
  OneDnnStream& operator=(const OneDnnStream&) = delete;

  dnnl::stream* get() { return stream_.get(); }

 private:
  std::unique_ptr<dnnl::stream> stream_;
};

}  // namespace octet::onednn

#endif  // OCTET_ENGINE_RUNTIME_ONEDNN_ONEDNN_STREAM_H_
