#include "engine/runtime/kernel_registry.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace octet {
namespace {

constexpr OpDefinition kOps[] = {
    {"Add", CheckAdd, BuildAdd},
    {"Conv", CheckConv, BuildConv},
    {"Flatten", CheckFlatten, BuildFlatten},
    {"Gemm", CheckGemm, BuildGemm},
    {"MatMul", CheckMatMul, BuildMatMul},
    {"Relu", CheckRelu, BuildRelu},
    {"Reshape", CheckReshape, BuildReshape},
};

}  // namespace

const OpDefinition* FindOp(absl::string_view domain, absl::string_view op_type) {
  if (!domain.empty()) return nullptr;
  for (const OpDefinition& op : kOps) {
    if (op.op_type == op_type) return &op;
  }
  return nullptr;
}

absl::Status CheckGraphSupported(const Graph& graph) {
  // Ordered so that the message lists op types alphabetically.
  std::map<std::string, std::string> unsupported;
  std::vector<std::string> problems;
  for (const Node& node : graph.nodes) {
    const OpDefinition* op = FindOp(node.domain, node.op_type);
    if (op == nullptr) {
      const std::string type =
          node.domain.empty() ? node.op_type : absl::StrCat(node.domain, ".", node.op_type);
      unsupported.emplace(type, node.Describe());
      continue;
    }
    if (absl::Status status = op->check(node, graph); !status.ok()) {
      problems.emplace_back(status.message());
    }
  }
  if (unsupported.empty() && problems.empty()) return absl::OkStatus();
  std::string message;
  if (!unsupported.empty()) {
    message = absl::StrCat(
        "unsupported operators: ",
        absl::StrJoin(unsupported, "; ", [](std::string* out, const auto& entry) {
          absl::StrAppend(out, entry.first, " (e.g. ", entry.second, ")");
        }));
  }
  if (!problems.empty()) {
    absl::StrAppend(&message, message.empty() ? "" : "; ", "unsupported uses: ",
                    absl::StrJoin(problems, "; "));
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace octet
