#include "engine/io/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/status_macros.h"

namespace octet {
namespace {

constexpr absl::string_view kMagic = "\x93NUMPY";
// numpy itself refuses headers longer than this when reading untrusted files.
constexpr size_t kMaxHeaderLength = 10000;

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed .npy: ", why));
}

std::optional<DataType> DataTypeFromDescr(absl::string_view descr) {
  // '<' little-endian, '|' not applicable (single byte), '=' native (little on x86-64).
  if (descr.size() < 2) return std::nullopt;
  const char order = descr[0];
  const absl::string_view kind = descr.substr(1);
  const bool single_byte = kind == "u1" || kind == "i1" || kind == "b1";
  if (single_byte) {
    if (order != '|' && order != '<' && order != '=') return std::nullopt;
  } else if (order != '<' && order != '=') {
    return std::nullopt;
  }
  if (kind == "f4") return DataType::kFloat32;
  if (kind == "f8") return DataType::kFloat64;
  if (kind == "f2") return DataType::kFloat16;
  if (kind == "u1") return DataType::kUint8;
  if (kind == "i1") return DataType::kInt8;
  if (kind == "i4") return DataType::kInt32;
  if (kind == "i8") return DataType::kInt64;
  if (kind == "b1") return DataType::kBool;
  return std::nullopt;
}

absl::string_view DescrOf(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "<f4";
    case DataType::kFloat64: return "<f8";
    case DataType::kFloat16: return "<f2";
    case DataType::kUint8: return "|u1";
    case DataType::kInt8: return "|i1";
    case DataType::kInt32: return "<i4";
    case DataType::kInt64: return "<i8";
    case DataType::kBool: return "|b1";
  }
  return "";
}

// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This reads exactly the three keys numpy writes, in any order, and nothing more.
struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Reads a quoted Python string at the start of `*s` and consumes it.
absl::StatusOr<std::string> ConsumeQuoted(absl::string_view* s) {
  if (s->empty() || ((*s)[0] != '\'' && (*s)[0] != '"')) return Malformed("expected a string");
  const char quote = (*s)[0];
  const size_t end = s->find(quote, 1);
  if (end == absl::string_view::npos) return Malformed("unterminated string in header");
  std::string value(s->substr(1, end - 1));
  s->remove_prefix(end + 1);
  return value;
}

void SkipSpace(absl::string_view* s) { *s = absl::StripLeadingAsciiWhitespace(*s); }

absl::StatusOr<Shape> ConsumeShape(absl::string_view* s) {
  if (!absl::ConsumePrefix(s, "(")) return Malformed("'shape' is not a tuple");
  const size_t end = s->find(')');
  if (end == absl::string_view::npos) return Malformed("unterminated shape tuple");
  Shape shape;
  for (absl::string_view part : absl::StrSplit(s->substr(0, end), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    // numpy writes Python ints; older versions append 'L'.
    absl::ConsumeSuffix(&part, "L");
    int64_t dim;
    if (!absl::SimpleAtoi(part, &dim) || dim < 0) {
      return Malformed(absl::StrCat("bad dimension '", part, "' in shape"));
    }
    shape.push_back(dim);
  }
  s->remove_prefix(end + 1);
  return shape;
}

absl::StatusOr<Header> ParseHeader(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&text, "{") || !absl::ConsumeSuffix(&text, "}")) {
    return Malformed("header is not a dict");
  }
  Header header;
  bool have_descr = false, have_order = false, have_shape = false;
  while (true) {
    SkipSpace(&text);
    if (text.empty()) break;
    OCTET_ASSIGN_OR_RETURN(std::string key, ConsumeQuoted(&text));
    SkipSpace(&text);
    if (!absl::ConsumePrefix(&text, ":")) return Malformed("expected ':' in header");
    SkipSpace(&text);
    if (key == "descr") {
      if (!text.empty() && text[0] == '[') {
        return absl::InvalidArgumentError(
            "unsupported .npy dtype: structured arrays are not tensors");
      }
      OCTET_ASSIGN_OR_RETURN(header.descr, ConsumeQuoted(&text));
      have_descr = true;
    } else if (key == "fortran_order") {
      if (absl::ConsumePrefix(&text, "True")) {
        header.fortran_order = true;
      } else if (absl::ConsumePrefix(&text, "False")) {
        header.fortran_order = false;
      } else {
        return Malformed("'fortran_order' is not True or False");
      }
      have_order = true;
    } else if (key == "shape") {
      OCTET_ASSIGN_OR_RETURN(header.shape, ConsumeShape(&text));
      have_shape = true;
    } else {
      return Malformed(absl::StrCat("unexpected key '", key, "' in header"));
    }
    SkipSpace(&text);
    if (!absl::ConsumePrefix(&text, ",")) {
      SkipSpace(&text);
      if (!text.empty()) return Malformed("expected ',' between header entries");
    }
  }
  if (!have_descr || !have_order || !have_shape) {
    return Malformed("header lacks one of 'descr', 'fortran_order', 'shape'");
  }
  return header;
}

}  // namespace

absl::StatusOr<Tensor> ParseNpy(absl::string_view bytes) {
  if (bytes.size() < kMagic.size() + 2 || bytes.substr(0, kMagic.size()) != kMagic) {
    return Malformed("missing the \\x93NUMPY magic");
  }
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_length;
  size_t prefix;
  if (major == 1) {
    if (bytes.size() < 10) return Malformed("truncated header length");
    header_length = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Malformed("truncated header length");
    header_length = 0;
    for (int i = 3; i >= 0; --i) header_length = (header_length << 8) | static_cast<uint8_t>(bytes[8 + i]);
    prefix = 12;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported .npy format version ", static_cast<int>(major)));
  }
  if (header_length > kMaxHeaderLength) {
    return Malformed(absl::StrCat("header of ", header_length, " bytes is too long"));
  }
  if (bytes.size() < prefix + header_length) return Malformed("truncated header");
  OCTET_ASSIGN_OR_RETURN(Header header, ParseHeader(bytes.substr(prefix, header_length)));
  const std::optional<DataType> type = DataTypeFromDescr(header.descr);
  if (!type.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported .npy dtype '", header.descr,
        "': expected little-endian float32/64/16, uint8, int8, int32, int64 or bool"));
  }
  if (header.fortran_order) {
    return absl::InvalidArgumentError("unsupported .npy layout: Fortran order; save in C order");
  }
  OCTET_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(header.shape, ElementSize(*type)));
  const absl::string_view data = bytes.substr(prefix + header_length);
  const uint64_t expected = static_cast<uint64_t>(count) * ElementSize(*type);
  if (data.size() != expected) {
    return Malformed(absl::StrCat("shape ", ShapeToString(header.shape), " of ", header.descr,
                                  " needs ", expected, " data bytes, file has ", data.size()));
  }
  return Tensor::FromBytes(*type, std::move(header.shape), data.data(), data.size());
}

std::string SerializeNpy(const Tensor& tensor) {
  // Python tuple syntax: "()", "(7,)", "(2, 3)".
  std::string shape = absl::StrJoin(tensor.shape(), ", ");
  if (tensor.rank() == 1) shape.push_back(',');
  std::string dict = absl::StrCat("{'descr': '", DescrOf(tensor.type()),
                                  "', 'fortran_order': False, 'shape': (", shape, "), }");
  // Pad with spaces and end with '\n' so that the data starts on a 64-byte boundary.
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = ((prefix + dict.size() + 1 + 63) / 64) * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back(0);
  const size_t length = dict.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += dict;
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  return out;
}

absl::StatusOr<Tensor> ReadNpyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  absl::StatusOr<Tensor> tensor = ParseNpy(bytes);
  if (!tensor.ok()) {
    return absl::Status(tensor.status().code(), absl::StrCat(path, ": ", tensor.status().message()));
  }
  return tensor;
}

absl::Status WriteNpyFile(const std::string& path, const Tensor& tensor) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path));
  const std::string bytes = SerializeNpy(tensor);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace octet
