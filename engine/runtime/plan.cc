#include "engine/runtime/plan.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/runtime/kernel_registry.h"

namespace octet {

namespace {

// Bytes a value with `desc` occupies (a blocked layout pads the channels to its block).
size_t DescBytes(const TensorDesc& desc) {
  int64_t count = 1;
  for (size_t i = 0; i < desc.shape.size(); ++i) {
    const int64_t block = i == 1 ? desc.channel_block : 0;
    count *= block > 0 ? (desc.shape[i] + block - 1) / block * block : desc.shape[i];
  }
  return static_cast<size_t>(count) * ElementSize(desc.type);
}

// The first node after `after` that reads `value`.
std::optional<size_t> NextReader(const Graph& graph, size_t after, const std::string& value) {
  for (size_t next = after + 1; next < graph.nodes.size(); ++next) {
    const std::vector<std::string>& inputs = graph.nodes[next].inputs;
    if (std::find(inputs.begin(), inputs.end(), value) != inputs.end()) return next;
  }
  return std::nullopt;
}

// When `add` is the Add `op` fuses as a sum post-op (OpDefinition::sum_op) and reads `value` as
// one operand exactly once: the inputs the fused node takes from it, the other operand first;
// else empty.
std::vector<std::string> SumOperands(const Node& add, const OpDefinition& op,
                                     const std::string& value) {
  if (add.domain != op.domain || add.op_type != op.sum_op || add.outputs.size() != 1) return {};
  if (add.domain.empty()) {
    if (add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) return {};
    return {add.inputs[add.inputs[0] == value ? 1 : 0]};
  }
  // ai.octet.Int8Add(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero)
  if (add.inputs.size() != 8 || add.inputs[0] == add.inputs[3] ||
      (add.inputs[0] != value && add.inputs[3] != value)) {
    return {};
  }
  const size_t own = add.inputs[0] == value ? 0 : 3;
  const size_t other = 3 - own;
  return {add.inputs[other],   add.inputs[other + 1], add.inputs[other + 2], add.inputs[own + 1],
          add.inputs[own + 2], add.inputs[6],         add.inputs[7]};
}

}  // namespace

struct Plan::Workspace {
  // Buffers of the intermediate slots (empty tensors elsewhere).
  std::vector<Tensor> buffers;
  Tensor scratchpad;
};

Plan::~Plan() = default;

absl::StatusOr<std::unique_ptr<Plan>> Plan::Build(const Graph& graph,
                                                  const std::vector<TensorDesc>& inputs,
                                                  const std::vector<std::pair<int, Tensor>>& values,
                                                  bool profile) {
  std::unique_ptr<Plan> plan(new Plan());
  plan->profile_ = profile;
  absl::flat_hash_map<std::string, int> slot_of;
  auto add_slot = [&](const std::string& name, Slot slot) {
    slot_of[name] = static_cast<int>(plan->slots_.size());
    plan->slots_.push_back(std::move(slot));
  };
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    auto value = std::find_if(values.begin(), values.end(),
                              [i](const auto& v) { return v.first == static_cast<int>(i); });
    if (value != values.end()) {
      add_slot(graph.inputs[i].name,
               Slot{SlotKind::kConstant, inputs[i], value->second.Clone(), static_cast<int>(i)});
    } else {
      add_slot(graph.inputs[i].name,
               Slot{SlotKind::kInput, inputs[i], Tensor(), static_cast<int>(i)});
    }
  }
  for (const auto& [name, tensor] : graph.constants) {
    add_slot(name, Slot{SlotKind::kConstant, TensorDesc{tensor.type(), tensor.shape()}, tensor});
  }
  // How many node inputs and graph outputs read each value: fusion needs a single reader.
  absl::flat_hash_map<std::string, int> readers;
  for (const Node& node : graph.nodes) {
    for (const std::string& input : node.inputs) ++readers[input];
  }
  for (const ValueInfo& output : graph.outputs) ++readers[output.name];
  // The nodes that read each value, in order.
  absl::flat_hash_map<std::string, std::vector<size_t>> reader_nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) reader_nodes[input].push_back(i);
  }
  absl::flat_hash_set<std::string> graph_outputs;
  for (const ValueInfo& output : graph.outputs) graph_outputs.insert(output.name);
  std::vector<bool> fused_away(graph.nodes.size(), false);
  absl::flat_hash_map<int, int> plain_copy;
  for (size_t index = 0; index < graph.nodes.size(); ++index) {
    if (fused_away[index]) continue;
    const Node& node = graph.nodes[index];
    const OpDefinition* op = FindOp(node.domain, node.op_type);
    if (op == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported operator ", node.Describe()));
    }
    KernelBuildContext context{node, graph.opset, {}, {}, std::nullopt};
    Step step;
    // Appends the value `name` ("" for an omitted input) as the next input of a kernel to build.
    auto append_input = [&](const std::string& name, KernelBuildContext* to,
                            std::vector<int>* slots) {
      const int slot = name.empty() ? -1 : slot_of.at(name);
      to->inputs.push_back(slot < 0 ? std::nullopt
                                    : std::optional<TensorDesc>(plan->slots_[slot].desc));
      to->constants.push_back(slot >= 0 && plan->slots_[slot].kind == SlotKind::kConstant
                                  ? &plan->slots_[slot].constant
                                  : nullptr);
      slots->push_back(slot);
    };
    for (const std::string& name : node.inputs) append_input(name, &context, &step.inputs);
    // Channel-blocked values reach only ops that take them; others read a plain copy, made once
    // per value by a reorder step.
    bool blocked_input = false;
    for (const auto& input : context.inputs) blocked_input |= input.has_value() && !input->plain();
    if (blocked_input && (op->takes_blocked == nullptr || !op->takes_blocked(context))) {
      for (size_t i = 0; i < step.inputs.size(); ++i) {
        if (step.inputs[i] < 0 || plan->slots_[step.inputs[i]].desc.plain()) continue;
        OCTET_ASSIGN_OR_RETURN(step.inputs[i], plan->PlainSlot(step.inputs[i], &plain_copy));
        context.inputs[i] = plan->slots_[step.inputs[i]].desc;
      }
    }
    // Fusions. A residual Add after the node becomes a sum post-op when its other operand is an
    // intermediate value already computed, read by no node from this one on but the Add, and laid
    // out as the node's output: the node then writes into that operand's buffer. An activation
    // after the node (or after the fused Add) becomes an eltwise post-op. The fused nodes' outputs
    // replace the node's own.
    std::optional<size_t> add_index;
    int residual = -1;
    std::vector<std::string> sum_operands;  // what the fused Add adds, the residual first
    if (op->sum_input >= 0 && node.outputs.size() == 1 && readers[node.outputs[0]] == 1) {
      const std::optional<size_t> next = NextReader(graph, index, node.outputs[0]);
      std::vector<std::string> operands;
      if (next.has_value()) operands = SumOperands(graph.nodes[*next], *op, node.outputs[0]);
      if (!operands.empty()) {
        const std::string& other = operands[0];
        auto it = slot_of.find(other);
        const std::vector<size_t>& other_readers = reader_nodes[other];
        const bool dies_at_add = !graph_outputs.contains(other) &&
                                 std::all_of(other_readers.begin(), other_readers.end(),
                                             [&](size_t r) { return r < index || r == *next; });
        if (it != slot_of.end() && dies_at_add &&
            plan->slots_[it->second].kind == SlotKind::kIntermediate) {
          add_index = next;
          residual = it->second;
          sum_operands = std::move(operands);
        }
      }
    }
    // The activation fused after `value`, with its node's index.
    auto activation_after =
        [&](const std::string& value) -> std::optional<std::pair<size_t, FusedActivation>> {
      if (!op->fuses_activation || readers[value] != 1) return std::nullopt;
      const std::optional<size_t> next = NextReader(graph, index, value);
      if (!next.has_value() || graph.nodes[*next].input(0) != value) return std::nullopt;
      std::optional<FusedActivation> activation = plan->ActivationOf(graph.nodes[*next], slot_of);
      if (!activation.has_value()) return std::nullopt;
      return std::make_pair(*next, *activation);
    };
    std::vector<std::string> output_names;
    std::vector<size_t> fused_nodes;
    absl::StatusOr<BuiltKernel> built_or = absl::UnknownError("not built");
    for (const bool with_sum : {true, false}) {
      if (with_sum && !add_index.has_value()) continue;
      KernelBuildContext attempt{node, graph.opset, context.inputs, context.constants,
                                 std::nullopt};
      std::vector<int> attempt_inputs = step.inputs;
      output_names = node.outputs;
      fused_nodes.clear();
      if (with_sum) {
        while (attempt.inputs.size() < static_cast<size_t>(op->sum_input)) {
          append_input("", &attempt, &attempt_inputs);
        }
        for (const std::string& name : sum_operands) append_input(name, &attempt, &attempt_inputs);
        attempt.fuse_sum = true;
        attempt.sum_node = &graph.nodes[*add_index];
        output_names = graph.nodes[*add_index].outputs;
        fused_nodes.push_back(*add_index);
      }
      if (node.outputs.size() == 1) {
        if (auto activation = activation_after(output_names[0])) {
          attempt.activation = activation->second;
          output_names = graph.nodes[activation->first].outputs;
          fused_nodes.push_back(activation->first);
        }
      }
      built_or = BuildKernel(*op, attempt);
      // The residual's buffer must hold exactly what the node writes.
      if (with_sum && (!built_or.ok() || !(built_or->outputs[0] == plan->slots_[residual].desc))) {
        continue;
      }
      step.inputs = std::move(attempt_inputs);
      if (with_sum) step.in_place_input = op->sum_input;
      break;
    }
    OCTET_ASSIGN_OR_RETURN(BuiltKernel built, std::move(built_or));
    step.op_type = node.op_type;
    step.nodes = node.name.empty() ? node.op_type : node.name;
    for (size_t fused : fused_nodes) {
      fused_away[fused] = true;
      const Node& other = graph.nodes[fused];
      absl::StrAppend(&step.nodes, " + ", other.name.empty() ? other.op_type : other.name);
    }
    step.notes = std::move(built.notes);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty() && i >= built.outputs.size()) {
        return absl::UnimplementedError(
            absl::StrCat(node.Describe(), ": output ", i, " is not computed"));
      }
    }
    bool foldable = node.op_type == "Shape";
    if (!foldable) {
      foldable = true;
      for (int slot : step.inputs) {
        foldable = foldable && (slot < 0 || plan->slots_[slot].kind == SlotKind::kConstant);
      }
    }
    if (foldable) {
      OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> values,
                             plan->Fold(*built.kernel, step.inputs, built.outputs));
      for (size_t i = 0; i < output_names.size(); ++i) {
        if (output_names[i].empty()) continue;
        add_slot(output_names[i],
                 Slot{SlotKind::kConstant, built.outputs[i], std::move(values[i])});
      }
      continue;
    }
    for (size_t i = 0; i < built.outputs.size(); ++i) {
      if (i >= output_names.size() || output_names[i].empty()) {
        step.outputs.push_back(-1);
        continue;
      }
      step.outputs.push_back(static_cast<int>(plan->slots_.size()));
      add_slot(output_names[i], Slot{SlotKind::kIntermediate, built.outputs[i], Tensor()});
    }
    plan->scratchpad_bytes_ = std::max(plan->scratchpad_bytes_, built.kernel->scratchpad_bytes());
    step.kernel = std::move(built.kernel);
    plan->steps_.push_back(std::move(step));
  }
  for (const ValueInfo& output : graph.outputs) {
    int slot = slot_of.at(output.name);
    if (!plan->slots_[slot].desc.plain()) {
      OCTET_ASSIGN_OR_RETURN(slot, plan->PlainSlot(slot, &plain_copy));
    }
    plan->output_slots_.push_back(slot);
  }
  plan->AssignBuffers();
  if (profile) {
    plan->step_nanos_ = std::make_unique<std::atomic<int64_t>[]>(plan->steps_.size());
    for (size_t i = 0; i < plan->steps_.size(); ++i) plan->step_nanos_[i] = 0;
  }
  return plan;
}

std::vector<StepDescription> Plan::Describe() const {
  std::vector<StepDescription> steps;
  const int64_t runs = profiled_runs_.load();
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    StepDescription d;
    d.nodes = step.nodes;
    d.op_type = step.op_type;
    d.implementation = step.kernel->implementation();
    d.notes = step.notes;
    for (int slot : step.inputs) d.inputs.push_back(slot >= 0 ? slots_[slot].desc : TensorDesc{});
    for (int slot : step.outputs) {
      d.outputs.push_back(slot >= 0 ? slots_[slot].desc : TensorDesc{});
    }
    if (profile_ && runs > 0) {
      d.runs = runs;
      d.mean_ms = static_cast<double>(step_nanos_[i].load()) / 1e6 / static_cast<double>(runs);
    }
    steps.push_back(std::move(d));
  }
  return steps;
}

absl::StatusOr<int> Plan::PlainSlot(int blocked, absl::flat_hash_map<int, int>* copies) {
  auto it = copies->find(blocked);
  if (it != copies->end()) return it->second;
  static const Node* const to_plain_node = [] {
    auto* node = new Node();
    node->op_type = std::string(kToPlainOp);
    node->domain = std::string(kOctetDomain);
    return node;
  }();
  const OpDefinition* to_plain = FindOp(kOctetDomain, kToPlainOp);
  KernelBuildContext context{*to_plain_node, 0, {slots_[blocked].desc}, {nullptr}, std::nullopt};
  OCTET_ASSIGN_OR_RETURN(BuiltKernel built, BuildKernel(*to_plain, context));
  const int plain = static_cast<int>(slots_.size());
  slots_.push_back(Slot{SlotKind::kIntermediate, built.outputs[0], Tensor()});
  scratchpad_bytes_ = std::max(scratchpad_bytes_, built.kernel->scratchpad_bytes());
  Step step;
  step.kernel = std::move(built.kernel);
  step.inputs = {blocked};
  step.outputs = {plain};
  step.nodes = "(reorder to plain)";
  step.op_type = "Reorder";
  steps_.push_back(std::move(step));
  copies->emplace(blocked, plain);
  return plain;
}

std::optional<FusedActivation> Plan::ActivationOf(
    const Node& node, const absl::flat_hash_map<std::string, int>& slot_of) const {
  using Kind = FusedActivation::Kind;
  if (!node.domain.empty() || node.outputs.size() != 1) return std::nullopt;
  auto attribute = [&node](const char* name, float fallback) {
    absl::StatusOr<float> value = node.GetFloat(name, fallback);
    return value.ok() ? *value : fallback;
  };
  if (node.op_type == "Relu") return FusedActivation{Kind::kRelu};
  if (node.op_type == "LeakyRelu")
    return FusedActivation{Kind::kLeakyRelu, attribute("alpha", 0.01f)};
  if (node.op_type == "Elu") return FusedActivation{Kind::kElu, attribute("alpha", 1.0f)};
  if (node.op_type == "Sigmoid") return FusedActivation{Kind::kSigmoid};
  if (node.op_type == "Tanh") return FusedActivation{Kind::kTanh};
  if (node.op_type == "HardSwish") return FusedActivation{Kind::kHardSwish};
  if (node.op_type != "Clip") return std::nullopt;
  float bounds[2] = {attribute("min", -std::numeric_limits<float>::infinity()),
                     attribute("max", std::numeric_limits<float>::infinity())};
  for (size_t i = 1; i <= 2; ++i) {
    if (node.input(i).empty()) continue;
    auto it = slot_of.find(node.input(i));
    if (it == slot_of.end() || slots_[it->second].kind != SlotKind::kConstant) return std::nullopt;
    const Tensor& bound = slots_[it->second].constant;
    if (bound.type() != DataType::kFloat32 || bound.element_count() != 1) return std::nullopt;
    bounds[i - 1] = bound.data<float>()[0];
  }
  return FusedActivation{Kind::kClip, bounds[0], bounds[1]};
}

size_t Plan::workspace_bytes() const {
  size_t total = 0;
  for (size_t bytes : buffer_bytes_) total += bytes;
  return total;
}

void Plan::AssignBuffers() {
  const int steps = static_cast<int>(steps_.size());
  // The last step reading each slot; graph outputs live to the end.
  std::vector<int> last_use(slots_.size(), -1);
  for (int s = 0; s < steps; ++s) {
    for (int slot : steps_[s].inputs) {
      if (slot >= 0) last_use[slot] = s;
    }
  }
  for (int slot : output_slots_) last_use[slot] = steps;
  buffer_of_slot_.assign(slots_.size(), -1);
  std::vector<int> free_buffers;
  // Slots whose buffer a step's output took over (their last reader writes it in place).
  std::vector<bool> handed_over(slots_.size(), false);
  for (int s = 0; s < steps; ++s) {
    const Step& step = steps_[s];
    if (step.in_place_input >= 0 && !step.outputs.empty() && step.outputs[0] >= 0) {
      const int from = step.inputs[step.in_place_input];
      const int to = step.outputs[0];
      if (from >= 0 && buffer_of_slot_[from] >= 0 && last_use[from] == s &&
          buffer_bytes_[buffer_of_slot_[from]] >= DescBytes(slots_[to].desc)) {
        buffer_of_slot_[to] = buffer_of_slot_[from];
        handed_over[from] = true;
        if (last_use[to] < 0) last_use[to] = s;
      }
    }
    for (int slot : step.outputs) {
      if (slot < 0 || buffer_of_slot_[slot] >= 0) continue;
      // Sizes were checked when the kernels were built.
      const size_t bytes = DescBytes(slots_[slot].desc);
      // The smallest free buffer that fits, else the largest grown, else a new one.
      int chosen = -1;
      for (int b : free_buffers) {
        if (buffer_bytes_[b] >= bytes && (chosen < 0 || buffer_bytes_[b] < buffer_bytes_[chosen])) {
          chosen = b;
        }
      }
      if (chosen < 0 && !free_buffers.empty()) {
        chosen = *std::max_element(free_buffers.begin(), free_buffers.end(), [&](int a, int b) {
          return buffer_bytes_[a] < buffer_bytes_[b];
        });
        buffer_bytes_[chosen] = bytes;
      }
      if (chosen < 0) {
        chosen = static_cast<int>(buffer_bytes_.size());
        buffer_bytes_.push_back(bytes);
      } else {
        free_buffers.erase(std::find(free_buffers.begin(), free_buffers.end(), chosen));
      }
      buffer_of_slot_[slot] = chosen;
      // A value nothing reads is dead at once.
      if (last_use[slot] < 0) last_use[slot] = s;
    }
    // Buffers whose values were last read by this step are free for the steps after it.
    for (size_t slot = 0; slot < slots_.size(); ++slot) {
      if (buffer_of_slot_[slot] >= 0 && last_use[slot] == s && !handed_over[slot]) {
        free_buffers.push_back(buffer_of_slot_[slot]);
      }
    }
  }
}

absl::StatusOr<std::vector<Tensor>> Plan::Fold(const Kernel& kernel, const std::vector<int>& inputs,
                                               const std::vector<TensorDesc>& outputs) const {
  std::vector<const Tensor*> in;
  for (int slot : inputs) {
    // A non-constant input here is what Shape reads, which needs only its desc.
    in.push_back(slot >= 0 && slots_[slot].kind == SlotKind::kConstant ? &slots_[slot].constant
                                                                       : nullptr);
  }
  std::vector<Tensor> values;
  std::vector<Tensor*> out;
  values.reserve(outputs.size());
  for (const TensorDesc& desc : outputs) {
    OCTET_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(desc.type, desc.shape));
    values.push_back(std::move(t));
  }
  for (Tensor& t : values) out.push_back(&t);
  OCTET_ASSIGN_OR_RETURN(
      Tensor scratchpad,
      Tensor::Create(DataType::kUint8, Shape{static_cast<int64_t>(kernel.scratchpad_bytes())}));
  ExecutionContext context{scratchpad.raw_data()};
  OCTET_RETURN_IF_ERROR(kernel.Run(in, out, context));
  return values;
}

std::unique_ptr<Plan::Workspace> Plan::AcquireWorkspace() const {
  {
    absl::MutexLock lock(&mu_);
    if (!free_workspaces_.empty()) {
      std::unique_ptr<Workspace> workspace = std::move(free_workspaces_.back());
      free_workspaces_.pop_back();
      return workspace;
    }
  }
  auto workspace = std::make_unique<Workspace>();
  workspace->buffers.resize(slots_.size());
  workspace->scratchpad =
      *Tensor::Create(DataType::kUint8, Shape{static_cast<int64_t>(scratchpad_bytes_)});
  std::vector<Tensor> storage;
  for (size_t bytes : buffer_bytes_) {
    storage.push_back(*Tensor::Create(DataType::kUint8, Shape{static_cast<int64_t>(bytes)}));
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (buffer_of_slot_[i] >= 0) {
      workspace->buffers[i] =
          Tensor::Alias(slots_[i].desc.type, slots_[i].desc.shape, storage[buffer_of_slot_[i]]);
    }
  }
  return workspace;
}

void Plan::ReleaseWorkspace(std::unique_ptr<Workspace> workspace) const {
  absl::MutexLock lock(&mu_);
  free_workspaces_.push_back(std::move(workspace));
}

absl::StatusOr<std::vector<Tensor>> Plan::Run(absl::Span<const Tensor> inputs,
                                              absl::Span<const int> outputs) const {
  std::unique_ptr<Workspace> workspace = AcquireWorkspace();
  // Requested outputs get fresh buffers, which the caller keeps.
  absl::flat_hash_map<int, Tensor> fresh;
  for (int index : outputs) {
    const int slot = output_slots_[index];
    if (slots_[slot].kind == SlotKind::kIntermediate && !fresh.contains(slot)) {
      OCTET_ASSIGN_OR_RETURN(Tensor t,
                             Tensor::Create(slots_[slot].desc.type, slots_[slot].desc.shape));
      fresh.emplace(slot, std::move(t));
    }
  }
  std::vector<Tensor*> values(slots_.size(), nullptr);
  for (size_t i = 0; i < slots_.size(); ++i) {
    switch (slots_[i].kind) {
      case SlotKind::kInput:
        values[i] = const_cast<Tensor*>(&inputs[slots_[i].input_index]);
        break;
      case SlotKind::kConstant:
        values[i] = const_cast<Tensor*>(&slots_[i].constant);
        break;
      case SlotKind::kIntermediate: {
        auto it = fresh.find(static_cast<int>(i));
        values[i] = it != fresh.end() ? &it->second : &workspace->buffers[i];
        break;
      }
    }
  }
  ExecutionContext context{workspace->scratchpad.raw_data()};
  std::vector<const Tensor*> step_inputs;
  std::vector<Tensor*> step_outputs;
  absl::Status status;
  const bool profile = profile_ && warmed_up_.exchange(true);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    step_inputs.clear();
    step_outputs.clear();
    for (int slot : step.inputs) step_inputs.push_back(slot < 0 ? nullptr : values[slot]);
    for (int slot : step.outputs) step_outputs.push_back(slot < 0 ? nullptr : values[slot]);
    if (profile) {
      const auto start = std::chrono::steady_clock::now();
      status = step.kernel->Run(step_inputs, step_outputs, context);
      step_nanos_[i] += std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    } else {
      status = step.kernel->Run(step_inputs, step_outputs, context);
    }
    if (!status.ok()) break;
  }
  if (profile && status.ok()) ++profiled_runs_;
  ReleaseWorkspace(std::move(workspace));
  OCTET_RETURN_IF_ERROR(status);
  std::vector<Tensor> result;
  result.reserve(outputs.size());
  for (int index : outputs) {
    const int slot = output_slots_[index];
    auto it = fresh.find(slot);
    result.push_back(it != fresh.end() ? it->second : values[slot]->Clone());
  }
  return result;
}

}  // namespace octet
