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
#include "engine/runtime/fusion.h"
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

}  // namespace

struct Plan::Workspace {
  // Buffers of the intermediate slots (empty tensors elsewhere).
  std::vector<Tensor> buffers;
  Tensor scratchpad;
};

Plan::~Plan() = default;

// Builds a plan node by node: the state of one Build.
class Plan::Builder {
 public:
  Builder(Plan* plan, const Graph& graph) : plan_(plan), graph_(graph), fusion_(graph) {
    for (const ValueInfo& output : graph.outputs) graph_outputs_.insert(output.name);
  }

  // Slots for the graph inputs (constants for those known by value) and the constants.
  void AddInputs(const std::vector<TensorDesc>& inputs,
                 const std::vector<std::pair<int, Tensor>>& values) {
    for (size_t i = 0; i < graph_.inputs.size(); ++i) {
      auto value = std::find_if(values.begin(), values.end(),
                                [i](const auto& v) { return v.first == static_cast<int>(i); });
      const bool known = value != values.end();
      AddSlot(graph_.inputs[i].name,
              Slot{known ? SlotKind::kConstant : SlotKind::kInput, inputs[i],
                   known ? value->second.Clone() : Tensor(), static_cast<int>(i)});
    }
    for (const auto& [name, tensor] : graph_.constants) {
      AddSlot(name, Slot{SlotKind::kConstant, TensorDesc{tensor.type(), tensor.shape()}, tensor});
    }
  }

  // A step for node `index` with the nodes fused into it, or constant slots for its outputs when
  // its inputs are all known. Nothing for a node an earlier step fused.
  absl::Status AddNode(size_t index) {
    if (fused_away_.contains(index)) return absl::OkStatus();
    const Node& node = graph_.nodes[index];
    const OpDefinition* op = FindOp(node.domain, node.op_type);
    if (op == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported operator ", node.Describe()));
    }
    KernelBuildContext context{node, graph_.opset, {}, {}, std::nullopt};
    Step step;
    for (const std::string& name : node.inputs) AppendInput(name, &context, &step.inputs);
    OCTET_RETURN_IF_ERROR(ReadPlainWhereNeeded(*op, &context, &step.inputs));
    std::vector<std::string> outputs;
    std::vector<size_t> fused;
    OCTET_ASSIGN_OR_RETURN(BuiltKernel built,
                           BuildFused(index, *op, context, &step, &outputs, &fused));
    step.op_type = node.op_type;
    step.nodes = node.name.empty() ? node.op_type : node.name;
    for (size_t f : fused) {
      fused_away_.insert(f);
      const Node& other = graph_.nodes[f];
      absl::StrAppend(&step.nodes, " + ", other.name.empty() ? other.op_type : other.name);
    }
    step.notes = std::move(built.notes);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty() && i >= built.outputs.size()) {
        return absl::UnimplementedError(
            absl::StrCat(node.Describe(), ": output ", i, " is not computed"));
      }
    }
    return Record(node, std::move(step), std::move(built), outputs);
  }

  // The graph outputs, plain; then buffers.
  absl::Status Finish() {
    for (const ValueInfo& output : graph_.outputs) {
      int slot = slot_of_.at(output.name);
      if (!plan_->slots_[slot].desc.plain()) {
        OCTET_ASSIGN_OR_RETURN(slot, plan_->PlainSlot(slot, &plain_copy_));
      }
      plan_->output_slots_.push_back(slot);
    }
    plan_->AssignBuffers();
    return absl::OkStatus();
  }

 private:
  void AddSlot(const std::string& name, Slot slot) {
    slot_of_[name] = static_cast<int>(plan_->slots_.size());
    plan_->slots_.push_back(std::move(slot));
  }

  // Appends the value `name` ("" for an omitted input) as the next input of a kernel to build.
  void AppendInput(const std::string& name, KernelBuildContext* to, std::vector<int>* slots) {
    const int slot = name.empty() ? -1 : slot_of_.at(name);
    to->inputs.push_back(slot < 0 ? std::nullopt
                                  : std::optional<TensorDesc>(plan_->slots_[slot].desc));
    to->constants.push_back(slot >= 0 && plan_->slots_[slot].kind == SlotKind::kConstant
                                ? &plan_->slots_[slot].constant
                                : nullptr);
    slots->push_back(slot);
  }

  // Channel-blocked values reach only ops that take them; others read a plain copy, made once
  // per value by a reorder step.
  absl::Status ReadPlainWhereNeeded(const OpDefinition& op, KernelBuildContext* context,
                                    std::vector<int>* inputs) {
    bool blocked = false;
    for (const auto& input : context->inputs) blocked |= input.has_value() && !input->plain();
    if (!blocked || (op.takes_blocked != nullptr && op.takes_blocked(*context))) {
      return absl::OkStatus();
    }
    for (size_t i = 0; i < inputs->size(); ++i) {
      if ((*inputs)[i] < 0 || plan_->slots_[(*inputs)[i]].desc.plain()) continue;
      OCTET_ASSIGN_OR_RETURN((*inputs)[i], plan_->PlainSlot((*inputs)[i], &plain_copy_));
      context->inputs[i] = plan_->slots_[(*inputs)[i]].desc;
    }
    return absl::OkStatus();
  }

  // The node's kernel with what fuses after it (FusionAnalysis): first with the residual Add, as
  // a sum post-op written over the residual's buffer, then, when the factory refuses that or
  // writes another layout than the residual's, without it; the activation after the result in
  // either case. Sets the step's inputs, the names of the values its outputs are, and the nodes
  // fused.
  absl::StatusOr<BuiltKernel> BuildFused(size_t index, const OpDefinition& op,
                                         const KernelBuildContext& context, Step* step,
                                         std::vector<std::string>* outputs,
                                         std::vector<size_t>* fused) {
    const Node& node = graph_.nodes[index];
    const std::optional<ResidualFusion> residual =
        fusion_.ResidualAfter(index, op, [this](const std::string& value) {
          auto it = slot_of_.find(value);
          return it != slot_of_.end() && plan_->slots_[it->second].kind == SlotKind::kIntermediate;
        });
    auto constant = [this](const std::string& value) -> const Tensor* {
      auto it = slot_of_.find(value);
      return it != slot_of_.end() && plan_->slots_[it->second].kind == SlotKind::kConstant
                 ? &plan_->slots_[it->second].constant
                 : nullptr;
    };
    absl::StatusOr<BuiltKernel> built = absl::UnknownError("not built");
    for (const bool with_sum : {true, false}) {
      if (with_sum && !residual.has_value()) continue;
      KernelBuildContext attempt{node, graph_.opset, context.inputs, context.constants,
                                 std::nullopt};
      std::vector<int> attempt_inputs = step->inputs;
      *outputs = node.outputs;
      fused->clear();
      if (with_sum) {
        while (attempt.inputs.size() < static_cast<size_t>(op.sum_input)) {
          AppendInput("", &attempt, &attempt_inputs);
        }
        for (const std::string& name : residual->operands) {
          AppendInput(name, &attempt, &attempt_inputs);
        }
        attempt.fuse_sum = true;
        attempt.sum_node = &graph_.nodes[residual->add];
        *outputs = graph_.nodes[residual->add].outputs;
        fused->push_back(residual->add);
      }
      if (node.outputs.size() == 1) {
        if (auto activation = fusion_.ActivationAfter(index, op, (*outputs)[0], constant)) {
          attempt.activation = activation->activation;
          *outputs = graph_.nodes[activation->node].outputs;
          fused->push_back(activation->node);
        }
      }
      built = BuildKernel(op, attempt);
      // The residual's buffer must hold exactly what the node writes.
      if (with_sum && (!built.ok() || !(built->outputs[0] ==
                                        plan_->slots_[slot_of_.at(residual->operands[0])].desc))) {
        continue;
      }
      step->inputs = std::move(attempt_inputs);
      if (with_sum) step->in_place_input = op.sum_input;
      break;
    }
    return built;
  }

  // The step, or, when every input is known (or the node is Shape), its outputs as constants.
  absl::Status Record(const Node& node, Step step, BuiltKernel built,
                      const std::vector<std::string>& outputs) {
    bool foldable = true;
    for (int slot : step.inputs) {
      foldable = foldable && (slot < 0 || plan_->slots_[slot].kind == SlotKind::kConstant);
    }
    if (foldable || node.op_type == "Shape") {
      OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> values,
                             plan_->Fold(*built.kernel, step.inputs, built.outputs));
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i].empty()) continue;
        AddSlot(outputs[i], Slot{SlotKind::kConstant, built.outputs[i], std::move(values[i])});
      }
      return absl::OkStatus();
    }
    for (size_t i = 0; i < built.outputs.size(); ++i) {
      if (i >= outputs.size() || outputs[i].empty()) {
        step.outputs.push_back(-1);
        continue;
      }
      step.outputs.push_back(static_cast<int>(plan_->slots_.size()));
      AddSlot(outputs[i], Slot{SlotKind::kIntermediate, built.outputs[i], Tensor()});
    }
    plan_->scratchpad_bytes_ = std::max(plan_->scratchpad_bytes_, built.kernel->scratchpad_bytes());
    step.kernel = std::move(built.kernel);
    const std::vector<int> written = step.outputs;
    plan_->steps_.push_back(std::move(step));
    // A graph output in a channel-blocked layout gets its plain copy right away, so that the
    // blocked value's buffer is free again as soon as the nodes reading it have run (a job that
    // fetches every layer's output would otherwise hold all of them blocked until the end).
    for (size_t i = 0; i < written.size(); ++i) {
      if (written[i] < 0 || plan_->slots_[written[i]].desc.plain() ||
          !graph_outputs_.contains(outputs[i])) {
        continue;
      }
      OCTET_RETURN_IF_ERROR(plan_->PlainSlot(written[i], &plain_copy_).status());
    }
    return absl::OkStatus();
  }

  Plan* const plan_;
  const Graph& graph_;
  const FusionAnalysis fusion_;
  absl::flat_hash_set<std::string> graph_outputs_;
  absl::flat_hash_map<std::string, int> slot_of_;
  absl::flat_hash_set<size_t> fused_away_;
  // The plain copy of each channel-blocked slot that has one.
  absl::flat_hash_map<int, int> plain_copy_;
};

absl::StatusOr<std::unique_ptr<Plan>> Plan::Build(const Graph& graph,
                                                  const std::vector<TensorDesc>& inputs,
                                                  const std::vector<std::pair<int, Tensor>>& values,
                                                  bool profile) {
  std::unique_ptr<Plan> plan(new Plan());
  plan->profile_ = profile;
  Builder builder(plan.get(), graph);
  builder.AddInputs(inputs, values);
  for (size_t index = 0; index < graph.nodes.size(); ++index) {
    OCTET_RETURN_IF_ERROR(builder.AddNode(index));
  }
  OCTET_RETURN_IF_ERROR(builder.Finish());
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
  // Graph outputs take no workspace buffer: a Run writes them into buffers it hands the caller.
  std::vector<bool> is_output(slots_.size(), false);
  for (int slot : output_slots_) is_output[slot] = true;
  buffer_of_slot_.assign(slots_.size(), -1);
  std::vector<int> free_buffers;
  // Slots whose buffer a step's output took over (their last reader writes it in place).
  std::vector<bool> handed_over(slots_.size(), false);
  for (int s = 0; s < steps; ++s) {
    const Step& step = steps_[s];
    if (step.in_place_input >= 0 && !step.outputs.empty() && step.outputs[0] >= 0) {
      const int from = step.inputs[step.in_place_input];
      const int to = step.outputs[0];
      if (from >= 0 && !is_output[to] && buffer_of_slot_[from] >= 0 && last_use[from] == s &&
          buffer_bytes_[buffer_of_slot_[from]] >= DescBytes(slots_[to].desc)) {
        buffer_of_slot_[to] = buffer_of_slot_[from];
        handed_over[from] = true;
        if (last_use[to] < 0) last_use[to] = s;
      }
    }
    for (int slot : step.outputs) {
      if (slot < 0 || buffer_of_slot_[slot] >= 0 || is_output[slot]) continue;
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
  return Run(inputs, outputs, nullptr);
}

absl::StatusOr<std::vector<Tensor>> Plan::Run(absl::Span<const Tensor> inputs,
                                              absl::Span<const int> outputs,
                                              std::vector<Tensor>* reuse) const {
  std::unique_ptr<Workspace> workspace = AcquireWorkspace();
  // Requested outputs get buffers of their own, which the caller keeps: the caller's where it
  // offers one that fits, else fresh ones.
  absl::flat_hash_map<int, Tensor> fresh;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const int slot = output_slots_[outputs[k]];
    if (slots_[slot].kind != SlotKind::kIntermediate || fresh.contains(slot)) continue;
    const TensorDesc& desc = slots_[slot].desc;
    if (reuse != nullptr && k < reuse->size() && (*reuse)[k].type() == desc.type &&
        (*reuse)[k].shape() == desc.shape && (*reuse)[k].sole_owner()) {
      fresh.emplace(slot, std::move((*reuse)[k]));
      continue;
    }
    OCTET_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(desc.type, desc.shape));
    fresh.emplace(slot, std::move(t));
  }
  // The outputs not asked for still need somewhere to go (workspaces hold no outputs).
  for (int slot : output_slots_) {
    if (slots_[slot].kind != SlotKind::kIntermediate || fresh.contains(slot)) continue;
    OCTET_ASSIGN_OR_RETURN(Tensor t,
                           Tensor::Create(slots_[slot].desc.type, slots_[slot].desc.shape));
    fresh.emplace(slot, std::move(t));
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
