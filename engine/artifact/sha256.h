// SHA-256 (OpenSSL's), the hash that names stored files and that artifacts record.
#ifndef OCTET_ENGINE_ARTIFACT_SHA256_H_
#define OCTET_ENGINE_ARTIFACT_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace octet {

// A hash fed in pieces. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // 64 lower-case hex digits. REQUIRES: called once, after the last Update.
  std::string HexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace octet

#endif  // OCTET_ENGINE_ARTIFACT_SHA256_H_
