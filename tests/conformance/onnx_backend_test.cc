// Runs the ONNX backend test suite shipped by Debian's libonnx-testdata through Octet's production
// import and runtime, against the suite's reference outputs.
//
//   onnx_backend_test [DATA_DIR]     (default /usr/share/libonnx-testdata/data)
//
// Cases are selected by asking the engine, not by a list: a model the importer or the runtime's
// support check refuses as unsupported is skipped with that reason; every other case must match
// (rtol 1e-3, atol 1e-4). Prints each failure, "N passed, M failed, K skipped", the skip counts
// per reason, and exits non-zero on any failure, or when an op the runtime registers or promises
// (kRequiredOps) passes no case.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/unsupported.h"
#include "engine/onnx/onnx_importer.h"
#include "engine/runtime/kernel_registry.h"
#include "engine/runtime/session.h"
#include "onnx/onnx_pb.h"

namespace octet {
namespace {

namespace fs = std::filesystem;

constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 1e-4;
const char* const kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

// The float operators Octet promises (issue 3): each must pass at least one backend case.
const char* const kRequiredOps[] = {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "PRelu",
    "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Elu", "Exp", "Log", "Sqrt", "Pow",
    "Add", "Sub", "Mul", "Div", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "ReduceMean", "ReduceSum", "ReduceMax", "Softmax", "LogSoftmax", "Concat", "Flatten", "Reshape",
    "Transpose", "Squeeze", "Unsqueeze", "Slice", "Pad", "Resize", "Split", "Shape", "Gather",
    "Cast", "Identity", "Dropout",
    // Issue 4: QDQ and the QOperator forms (rewritten to QDQ at import).
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
    "ConvInteger", "MatMulInteger"};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double ValueAt(const Tensor& t, int64_t i) {
  switch (t.type()) {
    case DataType::kFloat32:
      return t.data<float>()[i];
    case DataType::kFloat64:
      return t.data<double>()[i];
    case DataType::kUint8:
      return t.data<uint8_t>()[i];
    case DataType::kInt8:
      return t.data<int8_t>()[i];
    case DataType::kInt32:
      return t.data<int32_t>()[i];
    case DataType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DataType::kBool:
      return t.data<bool>()[i];
    case DataType::kFloat16:
      return reinterpret_cast<const uint16_t*>(t.raw_data())[i];
  }
  return 0;
}

// "" when `actual` matches `expected`, else what differs.
std::string Compare(const Tensor& actual, const Tensor& expected) {
  if (actual.type() != expected.type()) {
    return absl::StrCat("type ", DataTypeName(actual.type()),
                        " != ", DataTypeName(expected.type()));
  }
  if (actual.shape() != expected.shape()) {
    return absl::StrCat("shape ", ShapeToString(actual.shape()),
                        " != ", ShapeToString(expected.shape()));
  }
  const bool exact = actual.type() != DataType::kFloat32 && actual.type() != DataType::kFloat64;
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    const double a = ValueAt(actual, i), e = ValueAt(expected, i);
    if (std::isnan(a) && std::isnan(e)) continue;
    if (std::isinf(e) && a == e) continue;
    const bool close =
        exact ? a == e : std::abs(a - e) <= kAbsoluteTolerance + kRelativeTolerance * std::abs(e);
    if (!close) return absl::StrCat("element ", i, ": ", a, " != ", e);
  }
  return "";
}

enum class Outcome { kPassed, kFailed, kSkipped };

struct CaseResult {
  Outcome outcome;
  std::string detail;  // the skip reason or the failure
};

CaseResult RunCase(const fs::path& dir) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(ReadFile(dir / "model.onnx"));
  auto refusal = [](const absl::Status& status) -> CaseResult {
    if (std::optional<UnsupportedKind> kind = GetUnsupportedKind(status)) {
      return {Outcome::kSkipped, std::string(UnsupportedKindName(*kind))};
    }
    return {Outcome::kFailed, std::string(status.message())};
  };
  if (!graph.ok()) return refusal(graph.status());
  if (absl::Status s = CheckGraphSupported(*graph); !s.ok()) return refusal(s);
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*graph, {});
  if (!session.ok()) return refusal(session.status());

  int data_sets = 0;
  for (int set = 0; fs::exists(dir / absl::StrCat("test_data_set_", set)); ++set, ++data_sets) {
    const fs::path data = dir / absl::StrCat("test_data_set_", set);
    std::vector<NamedTensor> inputs;
    for (size_t i = 0; i < (*session)->inputs().size(); ++i) {
      onnx::TensorProto proto;
      if (!proto.ParseFromString(ReadFile(data / absl::StrCat("input_", i, ".pb")))) {
        return {Outcome::kFailed, absl::StrCat("cannot read input ", i)};
      }
      absl::StatusOr<Tensor> tensor = TensorFromOnnx(proto);
      if (!tensor.ok()) return refusal(tensor.status());
      inputs.emplace_back((*session)->inputs()[i].name, *std::move(tensor));
    }
    absl::StatusOr<std::vector<Tensor>> outputs = (*session)->Run(inputs);
    if (!outputs.ok()) return refusal(outputs.status());
    for (size_t i = 0; i < outputs->size(); ++i) {
      onnx::TensorProto proto;
      if (!proto.ParseFromString(ReadFile(data / absl::StrCat("output_", i, ".pb")))) {
        return {Outcome::kFailed, absl::StrCat("cannot read output ", i)};
      }
      absl::StatusOr<Tensor> expected = TensorFromOnnx(proto);
      if (!expected.ok()) return refusal(expected.status());
      const std::string difference = Compare((*outputs)[i], *expected);
      if (!difference.empty()) {
        return {Outcome::kFailed, absl::StrCat("data set ", set, " output ",
                                               (*session)->outputs()[i].name, ": ", difference)};
      }
    }
  }
  if (data_sets == 0) return {Outcome::kFailed, "no test data"};
  return {Outcome::kPassed, ""};
}

int Main(int argc, char** argv) {
  const fs::path root = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data";
  if (!fs::is_directory(root / "node")) {
    std::cerr << "onnx_backend_test: no ONNX backend test data under " << root
              << " (install libonnx-testdata)\n";
    return 2;
  }
  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, int> skip_reasons;
  std::set<std::string> ops_passing;
  for (const char* suite : kSuites) {
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(root / suite)) {
      if (fs::exists(entry.path() / "model.onnx")) cases.push_back(entry.path());
    }
    std::sort(cases.begin(), cases.end());
    for (const fs::path& dir : cases) {
      const CaseResult result = RunCase(dir);
      const std::string name = absl::StrCat(suite, "/", dir.filename().string());
      switch (result.outcome) {
        case Outcome::kPassed: {
          ++passed;
          // The model's own op types: QOperator nodes are rewritten at import.
          onnx::ModelProto model;
          model.ParseFromString(ReadFile(dir / "model.onnx"));
          for (const onnx::NodeProto& node : model.graph().node()) {
            ops_passing.insert(node.op_type());
          }
          break;
        }
        case Outcome::kFailed:
          ++failed;
          std::cout << "FAILED " << name << ": " << result.detail << "\n";
          break;
        case Outcome::kSkipped:
          ++skipped;
          ++skip_reasons[result.detail];
          break;
      }
    }
  }
  std::set<std::string> must_pass(std::begin(kRequiredOps), std::end(kRequiredOps));
  for (absl::string_view op : RegisteredOps()) must_pass.emplace(op);
  std::vector<std::string> ops_without_pass;
  for (const std::string& op : must_pass) {
    if (ops_passing.count(op) == 0) ops_without_pass.push_back(op);
  }
  std::cout << "skipped by reason:";
  for (const auto& [reason, count] : skip_reasons)
    std::cout << " " << reason << ": " << count << ";";
  std::cout << "\nops passing at least one case: " << absl::StrJoin(ops_passing, " ") << "\n";
  if (!ops_without_pass.empty()) {
    std::cout << "required or registered ops passing no case: "
              << absl::StrJoin(ops_without_pass, " ") << "\n";
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 && ops_without_pass.empty() ? 0 : 1;
}

}  // namespace
}  // namespace octet

int main(int argc, char** argv) { return octet::Main(argc, argv); }
