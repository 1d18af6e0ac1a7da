// Octet's int8 depthwise convolution against oneDNN's on the same shapes, in one process, same
// thread count: MobileNetV2's depthwise layers (3x3, pad 1, ReLU6) at batch 1 and 32, u8
// channels-last source and result, s8 weights within 7 bits (so that oneDNN's AVX2 kernel is
// exact too), per-channel scales, no zero points: what the int8 lowering gives either kernel.
//   octet_depthwise_bench THREADS RUNS
// Prints one line per shape: each kernel's median and min ms over RUNS runs, oneDNN's
// implementation, and the ratio oneDNN / Octet of the medians (above 1: Octet is faster); then
// oneDNN's float depthwise convolution on the same shape (its median, implementation and the ratio
// float / Octet int8: what quantizing the layer gains).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench/onednn_float_conv.h"
#include "dnnl.hpp"
#include "engine/runtime/cpu/int8_depthwise_conv.h"

namespace {

using dnnl::memory;

struct Shape2 {
  int64_t channels, size, stride;
};

using octet::bench::Time;
using octet::bench::Timing;

int Run(int runs, int64_t batch, const Shape2& shape) {
  const int64_t c = shape.channels, size = shape.size, stride = shape.stride;
  const int64_t out = (size + 2 - 3) / stride + 1;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> weight(-63, 63), byte(0, 255);
  std::vector<int8_t> weights(c * 9);
  for (int8_t& w : weights) w = static_cast<int8_t>(weight(rng));
  std::vector<float> bias(c), scales(c);
  for (int64_t i = 0; i < c; ++i) {
    bias[i] = static_cast<float>(byte(rng) - 128);
    scales[i] = 0.002f + 0.00001f * static_cast<float>(i % 7);
  }
  const float clip_high = 6.0f / 0.05f;

  // oneDNN: what BuildInt8Conv makes of a depthwise convolution without zero points.
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc src({batch, c, size, size}, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc dst({batch, c, out, out}, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc weights_any({c, 1, 1, 3, 3}, memory::data_type::s8, memory::format_tag::any);
  const memory::desc bias_desc({c}, memory::data_type::f32, memory::format_tag::x);
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, src, weights_any,
                                       bias_desc, dst, {stride, stride}, {1, 1}, {1, 1});
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, scales);
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, clip_high);
  attr.set_post_ops(ops);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
  memory src_memory(src, engine), dst_memory(dst, engine),
      bias_memory(bias_desc, engine, bias.data());
  memory plain_weights({{c, 1, 1, 3, 3}, memory::data_type::s8, memory::format_tag::goihw}, engine,
                       weights.data());
  memory weights_memory(pd.weights_desc(), engine);
  dnnl::reorder(plain_weights, weights_memory).execute(stream, plain_weights, weights_memory);
  auto* src_bytes = static_cast<uint8_t*>(src_memory.get_data_handle());
  for (size_t i = 0; i < src.get_size(); ++i) src_bytes[i] = static_cast<uint8_t>(byte(rng));
  dnnl::convolution_forward conv(pd);
  const Timing onednn = Time(runs, [&] {
    conv.execute(stream, {{DNNL_ARG_SRC, src_memory},
                          {DNNL_ARG_WEIGHTS, weights_memory},
                          {DNNL_ARG_BIAS, bias_memory},
                          {DNNL_ARG_DST, dst_memory}});
    stream.wait();
  });

  // oneDNN's float depthwise convolution on the same shape, in the layouts it picks (what a
  // float plan runs): what the int8 kernel has to beat.
  octet::bench::FloatConv float_conv(engine, {batch, c, size, size}, {c, 1, 1, 3, 3},
                                     {batch, c, out, out}, bias_desc, {stride, stride}, {1, 1},
                                     {1, 1}, ops);
  const Timing float_timing = Time(runs, [&] { float_conv.Run(stream, bias_memory); });

  octet::cpu::Int8DepthwiseConvSpec spec;
  spec.batch = batch;
  spec.channels = c;
  spec.in_h = spec.in_w = size;
  spec.out_h = spec.out_w = out;
  spec.kernel_h = spec.kernel_w = 3;
  spec.stride_h = spec.stride_w = stride;
  spec.pad_top = spec.pad_left = 1;
  spec.weights = weights;
  spec.bias = bias;
  spec.scale = scales;
  spec.activation = octet::cpu::Int8DepthwiseConvSpec::Activation::kClip;
  spec.alpha = 0.0f;
  spec.beta = clip_high;
  auto kernel = octet::cpu::MakeInt8DepthwiseConvKernel(spec);
  if (!kernel.ok()) {
    std::fprintf(stderr, "%s\n", kernel.status().ToString().c_str());
    return 1;
  }
  octet::Tensor x = octet::Tensor::FromBytes(octet::DataType::kUint8, {batch, c, size, size},
                                             src_bytes, src.get_size())
                        .value();
  octet::Tensor y = octet::Tensor::Create(octet::DataType::kUint8, {batch, c, out, out}).value();
  std::vector<char> scratch((*kernel)->scratchpad_bytes());
  octet::ExecutionContext context;
  context.scratchpad = scratch.data();
  const octet::Tensor* inputs[] = {&x};
  octet::Tensor* outputs[] = {&y};
  const Timing octet = Time(runs, [&] { (void)(*kernel)->Run(inputs, outputs, context); });
  // Same bytes (both exact here).
  const bool same = std::equal(static_cast<const uint8_t*>(y.raw_data()),
                               static_cast<const uint8_t*>(y.raw_data()) + dst.get_size(),
                               static_cast<const uint8_t*>(dst_memory.get_data_handle()));
  std::printf(
      "%5lld %4lld %3lldx%-3lld /%lld  %8.3f %8.3f   %8.3f %8.3f  %-22s %5.2f   %8.3f  %-12s %5.2f "
      " "
      "%s\n",
      static_cast<long long>(batch), static_cast<long long>(c), static_cast<long long>(size),
      static_cast<long long>(size), static_cast<long long>(stride), octet.median, octet.min,
      onednn.median, onednn.min, pd.impl_info_str(), onednn.median / octet.median,
      float_timing.median, float_conv.implementation(), float_timing.median / octet.median,
      same ? "same bytes" : "DIFFERENT");
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: octet_depthwise_bench THREADS RUNS\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]), runs = std::atoi(argv[2]);
  if (threads < 1 || runs < 1) return 2;
  if (!octet::cpu::Int8DepthwiseConvAvailable()) {
    std::printf("Octet's depthwise kernel is not used on this CPU (no AVX2, or VNNI)\n");
    return 0;
  }
  omp_set_num_threads(threads);
  // MobileNetV2's depthwise layers (channels, input size, stride) at 224x224.
  const Shape2 shapes[] = {{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {144, 56, 2}, {192, 28, 1},
                           {192, 28, 2}, {384, 14, 1}, {576, 14, 1}, {576, 14, 2}, {960, 7, 1}};
  std::printf(
      "batch    C  size /stride  octet med    min    onednn med    min  onednn implementation "
      "onednn/octet  f32 med  f32 implementation  f32/octet\n");
  int status = 0;
  for (const int64_t batch : {1, 32}) {
    for (const Shape2& shape : shapes) status |= Run(runs, batch, shape);
  }
  return status;
}
