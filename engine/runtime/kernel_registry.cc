#include "engine/runtime/kernel_registry.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "engine/base/unsupported.h"
#include "engine/runtime/op_families.h"

namespace octet {
namespace {

const std::vector<OpDefinition>& AllOps() {
  static const auto* const ops = [] {
    auto* all = new std::vector<OpDefinition>();
    for (auto family :
         {ConvOps, Int8ConvOps, MatMulOps, EltwiseOps, BinaryOps, ArithmeticOps, ShapeOps,
          PoolingOps, SoftmaxOps, DataMovementOps, NormalizationOps, ReduceOps, ConvTransposeOps,
          ResizeOps, QuantizeOps, Int8ConcatOps, LayoutOps}) {
      for (const OpDefinition& op : family()) all->push_back(op);
    }
    return all;
  }();
  return *ops;
}

// Ops outside what a tensor inference runtime serves.
bool IsSequenceStringOrTraining(const Node& node) {
  static constexpr absl::string_view kStringOps[] = {
      "StringNormalizer", "TfIdfVectorizer", "RegexFullMatch", "StringConcat", "StringSplit"};
  if (node.domain == "ai.onnx.preview.training") return true;
  if (absl::StrContains(node.op_type, "Sequence") || node.op_type == "ConcatFromSequence") {
    return true;
  }
  if (absl::StartsWith(node.op_type, "Optional")) return true;
  return std::find(std::begin(kStringOps), std::end(kStringOps), node.op_type) !=
         std::end(kStringOps);
}

}  // namespace

const OpDefinition* FindOp(absl::string_view domain, absl::string_view op_type) {
  for (const OpDefinition& op : AllOps()) {
    if (op.op_type == op_type && op.domain == domain) return &op;
  }
  return nullptr;
}

std::vector<absl::string_view> RegisteredOps() {
  std::vector<absl::string_view> names;
  for (const OpDefinition& op : AllOps()) {
    if (op.domain.empty()) names.push_back(op.op_type);
  }
  std::sort(names.begin(), names.end());
  return names;
}

PlanConstantAnalysis AnalyzePlanConstants(const Graph& graph) {
  auto folds_from_shapes = [](const Node& node) {
    return node.op_type == "Shape" || node.op_type == "Size";
  };
  // Backwards: the values plans must know, and everything those are computed from.
  absl::flat_hash_set<std::string> needed;
  for (const Node& node : graph.nodes) {
    const OpDefinition* op = FindOp(node.domain, node.op_type);
    if (op == nullptr) continue;
    for (size_t i = 0; i < node.inputs.size() && i < 32; ++i) {
      if ((op->value_inputs >> i & 1) && !node.inputs[i].empty()) needed.insert(node.inputs[i]);
    }
  }
  for (auto it = graph.nodes.rbegin(); it != graph.nodes.rend(); ++it) {
    if (folds_from_shapes(*it)) continue;
    bool output_needed = false;
    for (const std::string& output : it->outputs) output_needed |= needed.contains(output);
    if (output_needed) {
      for (const std::string& input : it->inputs) {
        if (!input.empty()) needed.insert(input);
      }
    }
  }
  PlanConstantAnalysis analysis;
  for (const auto& [name, tensor] : graph.constants) analysis.known.insert(name);
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const ValueInfo& input = graph.inputs[i];
    if (!needed.contains(input.name) || !input.shape.has_value()) continue;
    int64_t count = 1;
    for (const Dim& d : *input.shape) count = d.is_static() ? count * d.size : -1;
    if (count >= 0 && count <= kMaxValueInputElements) {
      analysis.value_inputs.push_back(static_cast<int>(i));
      analysis.known.insert(input.name);
    }
  }
  // Forwards: what is computed only from known values.
  for (const Node& node : graph.nodes) {
    bool all_known = folds_from_shapes(node);
    if (!all_known) {
      all_known = true;
      for (const std::string& input : node.inputs) {
        all_known = all_known && (input.empty() || analysis.known.contains(input));
      }
    }
    if (all_known) analysis.known.insert(node.outputs.begin(), node.outputs.end());
  }
  return analysis;
}

absl::Status CheckGraphSupported(const Graph& graph) {
  const PlanConstantAnalysis analysis = AnalyzePlanConstants(graph);
  // Ordered so that the message lists op types alphabetically.
  std::map<std::string, std::string> unsupported;
  std::optional<UnsupportedKind> first_kind;
  std::vector<std::string> problems;
  for (const Node& node : graph.nodes) {
    const OpDefinition* op =
        node.domain == kOctetDomain ? nullptr : FindOp(node.domain, node.op_type);
    if (op == nullptr) {
      const std::string type =
          node.domain.empty() ? node.op_type : absl::StrCat(node.domain, ".", node.op_type);
      unsupported.emplace(type, node.Describe());
      if (!first_kind.has_value()) {
        first_kind = IsSequenceStringOrTraining(node) ? UnsupportedKind::kSequenceStringOrTraining
                                                      : UnsupportedKind::kOperator;
      }
      continue;
    }
    absl::Status status = op->check(CheckContext{node, graph, analysis.known});
    for (size_t i = 0; status.ok() && i < node.inputs.size() && i < 32; ++i) {
      if ((op->value_inputs >> i & 1) && !node.inputs[i].empty() &&
          !analysis.known.contains(node.inputs[i])) {
        status = UnsupportedError(
            UnsupportedKind::kAttribute,
            absl::StrCat(node.Describe(), ": input ", i, " ('", node.inputs[i],
                         "') must be a constant, a small input or computed from shapes"));
      }
    }
    if (!status.ok()) {
      problems.emplace_back(status.message());
      if (!first_kind.has_value() || (unsupported.empty() && problems.size() == 1)) {
        first_kind = GetUnsupportedKind(status);
      }
    }
  }
  if (unsupported.empty() && problems.empty()) return absl::OkStatus();
  std::string message;
  if (!unsupported.empty()) {
    message =
        absl::StrCat("unsupported operators: ",
                     absl::StrJoin(unsupported, "; ", [](std::string* out, const auto& entry) {
                       absl::StrAppend(out, entry.first, " (e.g. ", entry.second, ")");
                     }));
  }
  if (!problems.empty()) {
    absl::StrAppend(&message, message.empty() ? "" : "; ",
                    "unsupported uses: ", absl::StrJoin(problems, "; "));
  }
  if (first_kind.has_value()) return UnsupportedError(*first_kind, message);
  return absl::InvalidArgumentError(message);
}

}  // namespace octet
