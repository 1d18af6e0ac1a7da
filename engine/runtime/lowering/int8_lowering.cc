#include "engine/runtime/lowering/int8_lowering.h"

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/runtime/lowering/patterns.h"

namespace octet {
namespace {

void DropUnreadDequantizes(Graph* graph) {
  bool changed = true;
  while (changed) {
    changed = false;
    absl::flat_hash_set<std::string> read;
    for (const Node& node : graph->nodes) read.insert(node.inputs.begin(), node.inputs.end());
    for (const ValueInfo& output : graph->outputs) read.insert(output.name);
    std::vector<Node> kept;
    for (Node& node : graph->nodes) {
      if (node.op_type == "DequantizeLinear" && node.domain.empty() &&
          !read.contains(node.outputs[0])) {
        changed = true;
        continue;
      }
      kept.push_back(std::move(node));
    }
    graph->nodes = std::move(kept);
  }
}

}  // namespace

Int8Lowering LowerQdqToInt8(const Graph& graph) {
  const QdqReader g(graph);
  Int8Lowering result;
  result.graph = graph;
  std::vector<bool> removed(graph.nodes.size(), false);
  absl::flat_hash_map<size_t, Node> replacement;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (std::optional<LinearMatch> linear = MatchLinear(g, graph.nodes[i])) {
      if (absl::Status exact = g.ComputedExactly(BuildInt8MatMul(g, *linear, nullptr));
          !exact.ok()) {
        result.kept_float.push_back(absl::StrCat(linear->op->Describe(), ": ", exact.message()));
        continue;
      }
      removed[i] = true;
      if (linear->activation != nullptr) removed[g.IndexOf(linear->activation)] = true;
      const size_t at = linear->q != nullptr ? g.IndexOf(linear->q) : i;
      removed[at] = true;
      replacement[at] = BuildInt8MatMul(g, *linear, &result.graph);
      result.lowered.push_back(absl::StrCat(
          "Int8MatMul ", linear->op->Describe(),
          linear->activation != nullptr ? absl::StrCat(" + ", linear->activation->op_type) : "",
          linear->q == nullptr ? " (float result)" : ""));
      continue;
    }
    const Node& q = graph.nodes[i];
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || replacement.contains(i)) continue;
    if (const Node* op = MatchValuePreserving(g, q)) {
      removed[g.IndexOf(op)] = true;
      Node moved = *op;
      moved.inputs[0] = g.Producer(op->input(0))->input(0);
      moved.outputs = q.outputs;
      replacement[i] = std::move(moved);
      result.lowered.push_back(absl::StrCat(op->op_type, " ", op->Describe(), " on int8"));
      continue;
    }
    if (const Node* concat = MatchConcat(g, q)) {
      removed[g.IndexOf(concat)] = true;
      replacement[i] = BuildInt8Concat(g, *concat, q);
      result.lowered.push_back(absl::StrCat("Int8Concat ", concat->Describe()));
      continue;
    }
    if (std::optional<PoolMatch> pool = MatchPool(g, q)) {
      if (!pool->inexact.empty()) {
        result.kept_float.push_back(absl::StrCat(pool->pool->Describe(), ": ", pool->inexact));
        continue;
      }
      removed[g.IndexOf(pool->pool)] = true;
      replacement[i] = BuildInt8Pool(*pool, q);
      result.lowered.push_back(
          absl::StrCat("Int8", pool->pool->op_type, " ", pool->pool->Describe()));
      continue;
    }
    if (std::optional<AddMatch> add = MatchAdd(g, q)) {
      removed[g.IndexOf(add->add)] = true;
      if (add->relu != nullptr) removed[g.IndexOf(add->relu)] = true;
      replacement[i] = BuildInt8Add(*add, q);
      result.lowered.push_back(
          absl::StrCat("Int8Add ", add->add->Describe(), add->relu != nullptr ? " + Relu" : ""));
      continue;
    }
    std::optional<ConvMatch> match = MatchConv(g, q);
    if (!match.has_value()) continue;
    if (absl::Status exact = g.ComputedExactly(BuildInt8Conv(g, *match, q, nullptr)); !exact.ok()) {
      result.kept_float.push_back(absl::StrCat(match->conv->Describe(), ": ", exact.message()));
      continue;
    }
    for (size_t index : match->absorbed) removed[index] = true;
    replacement[i] = BuildInt8Conv(g, *match, q, &result.graph);
    result.lowered.push_back(absl::StrCat(
        "Int8Conv ", match->conv->Describe(),
        match->activation != nullptr ? absl::StrCat(" + ", match->activation->op_type) : ""));
  }
  std::vector<Node> nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    auto it = replacement.find(i);
    if (it != replacement.end()) {
      nodes.push_back(std::move(it->second));
    } else if (!removed[i]) {
      nodes.push_back(graph.nodes[i]);
    }
  }
  result.graph.nodes = std::move(nodes);
  DropUnreadDequantizes(&result.graph);
  return result;
}

}  // namespace octet
