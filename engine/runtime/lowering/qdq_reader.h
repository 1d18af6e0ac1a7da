// A QDQ graph as the int8 lowering reads it: who produces and reads each value, and what the
// patterns' pieces (quantize and dequantize nodes of activations, weights and biases, fusable
// activations) look like.
#ifndef OCTET_ENGINE_RUNTIME_LOWERING_QDQ_READER_H_
#define OCTET_ENGINE_RUNTIME_LOWERING_QDQ_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/ir/graph.h"

namespace octet {

// Immutable once built; the graph must outlive it.
class QdqReader {
 public:
  explicit QdqReader(const Graph& graph);

  const Graph& graph() const { return in_; }

  // Whether `name` is a constant holding one value of `type`.
  bool IsScalarConstant(const std::string& name, DataType type) const;

  const Node* Producer(const std::string& value) const;

  size_t IndexOf(const Node* node) const { return node - in_.nodes.data(); }

  int Readers(const std::string& value) const;

  // The first node reading `value` (the only one where Readers(value) == 1), or nullptr.
  const Node* SoleReader(const std::string& value) const;

  // QuantizeLinear to a per-tensor u8/s8 value.
  bool IsActivationQuantize(const Node& q) const;

  // DequantizeLinear of a per-tensor activation: non-constant input, scalar constant parameters.
  bool IsActivationDequantize(const Node* dq) const;

  // DequantizeLinear of constant int8 weights with zero points 0, per tensor or along axis 0.
  bool IsWeightDequantize(const Node* dq) const;

  // DequantizeLinear of constant int8 2-D weights with zero points 0, per tensor or along
  // `column_axis` (the output columns).
  bool IsMatrixWeightDequantize(const Node* dq, int64_t column_axis) const;

  // Whether the weights' DequantizeLinear has no zero point or int8 zero points that are all 0.
  bool HasZeroWeightZeroPoints(const Node& dq) const;

  bool IsBiasDequantize(const Node* dq_b) const;

  // An activation the int8 kernels fuse (Relu, Clip, LeakyRelu, HardSwish, Sigmoid), with any
  // parameters it takes as inputs constant.
  bool IsFusableActivation(const Node& node) const;

  // The bias value `input` of the layer producing `output` in real units: the float constant
  // itself, or its DequantizeLinear computed once as a float constant of `graph`.
  std::string RealBiasOf(const std::string& input, const std::string& output, Graph* graph) const;

  // The fused activation as the int8 kernels read it: "activation" (the op type), and
  // "activation_alpha" / "activation_beta" (LeakyRelu's alpha; Clip's bounds).
  void AddActivationAttributes(const Node& a, Node* node) const;

  // OK when an implementation of the int8 op `node` computes it exactly on this CPU, as its
  // factory will choose it when the plan is built; else why none does. The registry is asked with
  // what is known before shapes: the graph's types and constants.
  absl::Status ComputedExactly(const Node& node) const;

 private:
  const Graph& in_;
  absl::flat_hash_map<std::string, size_t> producer_;
  absl::flat_hash_map<std::string, int> readers_;
  absl::flat_hash_map<std::string, size_t> first_reader_;
};

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_LOWERING_QDQ_READER_H_
