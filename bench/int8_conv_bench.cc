// Octet's exact AVX2 int8 convolution (VPMADDWD, 8-bit weights) against oneDNN's u8 x s8
// convolution with 7-bit weights (VPMADDUBSW, what a 7-bit job runs) and oneDNN's float
// convolution, on the same shapes, in one process, same thread count: the convolutions of the
// benchmark models (the Fashion-MNIST fixtures, ResNet-18 and MobileNetV2 at 224x224) at batch 1
// and 32. Channels-last u8 source and result, per-channel scales, Relu, no zero points: what the
// int8 lowering gives either kernel.
//   octet_int8_conv_bench THREADS RUNS [BATCH...]   (batches: 1 32 unless given)
// OCTET_BENCH_SHAPE=I in the environment times only the I-th shape of the list (from 0), for a
// profiler.
// Prints one line per shape: Octet's kernel (as a plan picks it: Winograd's F(2x2, 3x3) for 3x3 of
// stride 1 from 32 channels, the plain product for pointwise, the direct product otherwise; beside
// Winograd, the direct product's time on the same shape), each kernel's best time over RUNS runs
// (the least disturbed by a shared machine), its GMAC/s at that time (direct convolution MACs,
// whatever the algorithm), and the ratios oneDNN 7-bit / Octet and float / Octet (above 1: Octet is
// faster).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/onednn_float_conv.h"
#include "dnnl.hpp"
#include "engine/runtime/cpu/int8_gemm.h"
#include "engine/runtime/cpu/int8_winograd.h"

namespace {

using dnnl::memory;

struct Shape {
  const char* model;
  int64_t in_channels, out_channels, size, kernel, stride;
};

// The best of `runs` timed calls (the least disturbed by a shared machine).
template <typename F>
double BestMs(int runs, F run) {
  return octet::bench::Time(runs, run).min;
}

int Run(int runs, int64_t batch, const Shape& shape) {
  const int64_t ic = shape.in_channels, oc = shape.out_channels, size = shape.size;
  const int64_t k = shape.kernel, stride = shape.stride, pad = k / 2;
  const int64_t out = (size + 2 * pad - k) / stride + 1;
  const double macs = static_cast<double>(batch) * out * out * oc * ic * k * k;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255), weight8(-128, 127), weight7(-64, 63);
  std::vector<uint8_t> source(batch * size * size * ic);
  for (uint8_t& b : source) b = static_cast<uint8_t>(byte(rng));
  std::vector<int8_t> weights(oc * ic * k * k);  // [oc][ic][kh][kw] for oneDNN
  for (int8_t& w : weights) w = static_cast<int8_t>(weight7(rng));
  std::vector<float> bias(oc), scales(oc);
  for (int64_t i = 0; i < oc; ++i) {
    bias[i] = static_cast<float>(byte(rng) - 128);
    scales[i] = 0.0005f + 0.00001f * static_cast<float>(i % 7);
  }

  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  dnnl::post_ops relu;
  relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  const memory::desc bias_desc({oc}, memory::data_type::f32, memory::format_tag::x);

  // oneDNN int8, 7-bit weights.
  const memory::desc src({batch, ic, size, size}, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc dst({batch, oc, out, out}, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc weights_any({oc, ic, k, k}, memory::data_type::s8, memory::format_tag::any);
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, src, weights_any,
                                       bias_desc, dst, {stride, stride}, {pad, pad}, {pad, pad});
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, scales);
  attr.set_post_ops(relu);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
  memory src_memory(src, engine, source.data()), dst_memory(dst, engine),
      bias_memory(bias_desc, engine, bias.data());
  memory plain_weights({{oc, ic, k, k}, memory::data_type::s8, memory::format_tag::oihw}, engine,
                       weights.data());
  memory weights_memory(pd.weights_desc(), engine);
  dnnl::reorder(plain_weights, weights_memory).execute(stream, plain_weights, weights_memory);
  dnnl::convolution_forward conv(pd);
  const double onednn = BestMs(runs, [&] {
    conv.execute(stream, {{DNNL_ARG_SRC, src_memory},
                          {DNNL_ARG_WEIGHTS, weights_memory},
                          {DNNL_ARG_BIAS, bias_memory},
                          {DNNL_ARG_DST, dst_memory}});
    stream.wait();
  });

  // oneDNN float, in the layouts it picks (what a float plan runs).
  octet::bench::FloatConv float_conv(engine, {batch, ic, size, size}, {oc, ic, k, k},
                                     {batch, oc, out, out}, bias_desc, {stride, stride}, {pad, pad},
                                     {pad, pad}, relu);
  const double float_ms = BestMs(runs, [&] { float_conv.Run(stream, bias_memory); });

  // Octet's product, 8-bit weights: rows (ky, kx, channel) x output channels.
  octet::cpu::Int8GemmSpec spec;
  spec.k = k * k * ic;
  spec.n = oc;
  spec.weights.resize(spec.k * oc);
  for (int64_t o = 0; o < oc; ++o) {
    for (int64_t c = 0; c < ic; ++c) {
      for (int64_t t = 0; t < k * k; ++t) {
        spec.weights[(t * ic + c) * oc + o] = static_cast<int8_t>(weight8(rng));
      }
    }
  }
  spec.scales = scales;
  spec.addend = bias;
  spec.negative_slope = 0.0f;
  spec.rows = batch * size * size;
  if (k > 1 || stride > 1) {  // a pointwise convolution is a plain product, as plans run it
    octet::cpu::Int8GemmSpec::Convolution c;
    c.in_h = c.in_w = size;
    c.channels = ic;
    c.out_h = c.out_w = out;
    c.kernel_h = c.kernel_w = k;
    c.stride_h = c.stride_w = stride;
    c.pad_top = c.pad_left = pad;
    spec.convolution = c;
  }
  // The kernel a plan picks: Winograd's F(2x2, 3x3) for 3x3 of stride 1 where it is faster.
  const bool winograd =
      octet::cpu::Int8WinogradApplies(spec).ok() && octet::cpu::Int8WinogradFaster(spec);
  auto kernel =
      winograd ? octet::cpu::MakeInt8WinogradKernel(spec) : octet::cpu::MakeInt8GemmKernel(spec);
  if (!kernel.ok()) {
    std::fprintf(stderr, "%s\n", kernel.status().ToString().c_str());
    return 1;
  }
  octet::Tensor x = octet::Tensor::FromBytes(octet::DataType::kUint8, {batch, size, size, ic},
                                             source.data(), source.size())
                        .value();
  octet::Tensor y = octet::Tensor::Create(octet::DataType::kUint8, {batch * out * out, oc}).value();
  std::vector<char> scratch((*kernel)->scratchpad_bytes());
  octet::ExecutionContext context;
  context.scratchpad = scratch.data();
  const octet::Tensor* inputs[] = {&x};
  octet::Tensor* outputs[] = {&y};
  const double octet_ms = BestMs(runs, [&] { (void)(*kernel)->Run(inputs, outputs, context); });
  // Where Winograd runs, the direct product beside it (the choice's evidence).
  double direct_ms = 0.0;
  if (winograd) {
    auto direct = octet::cpu::MakeInt8GemmKernel(spec);
    std::vector<char> direct_scratch((*direct)->scratchpad_bytes());
    octet::ExecutionContext direct_context;
    direct_context.scratchpad = direct_scratch.data();
    direct_ms = BestMs(runs, [&] { (void)(*direct)->Run(inputs, outputs, direct_context); });
  }

  std::printf(
      "%-13s %5lld %4lld %4lld %3lld %lldx%lld/%lld %-8s %8.3f %6.1f %9s  %8.3f %6.1f  %8.3f "
      "%6.1f  %5.2f %5.2f\n",
      shape.model, static_cast<long long>(batch), static_cast<long long>(ic),
      static_cast<long long>(oc), static_cast<long long>(size), static_cast<long long>(k),
      static_cast<long long>(k), static_cast<long long>(stride),
      winograd                       ? "winograd"
      : spec.convolution.has_value() ? "direct"
                                     : "product",
      octet_ms, macs / octet_ms / 1e6, winograd ? absl::StrFormat("%.3f", direct_ms).c_str() : "-",
      onednn, macs / onednn / 1e6, float_ms, macs / float_ms / 1e6, onednn / octet_ms,
      float_ms / octet_ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: octet_int8_conv_bench THREADS RUNS [BATCH...]\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]), runs = std::atoi(argv[2]);
  if (threads < 1 || runs < 1) return 2;
  std::vector<int64_t> batches;
  for (int i = 3; i < argc; ++i) batches.push_back(std::atoll(argv[i]));
  if (batches.empty()) batches = {1, 32};
  if (!octet::cpu::Int8GemmAvailable()) {
    std::printf("Octet's int8 product is not used on this CPU (no AVX2, or VNNI)\n");
    return 0;
  }
  omp_set_num_threads(threads);
  // model, in channels, out channels, input size, kernel, stride (padding kernel / 2).
  const Shape shapes[] = {
      {"fixture", 1, 16, 28, 3, 1},        {"fixture", 16, 16, 28, 3, 1},
      {"fixture", 16, 32, 28, 3, 2},       {"fixture", 32, 32, 14, 3, 1},
      {"fixture", 64, 64, 7, 3, 1},        {"fixture", 16, 16, 28, 1, 1},
      {"fixture", 16, 64, 28, 1, 1},       {"fixture", 64, 24, 14, 1, 1},
      {"fixture", 24, 96, 14, 1, 1},       {"resnet18", 3, 64, 224, 7, 2},
      {"resnet18", 64, 64, 56, 3, 1},      {"resnet18", 128, 128, 28, 3, 1},
      {"resnet18", 256, 256, 14, 3, 1},    {"resnet18", 512, 512, 7, 3, 1},
      {"resnet18", 256, 512, 14, 3, 2},    {"mobilenet_v2", 32, 16, 112, 1, 1},
      {"mobilenet_v2", 16, 96, 112, 1, 1}, {"mobilenet_v2", 144, 24, 56, 1, 1},
      {"mobilenet_v2", 192, 32, 28, 1, 1}, {"mobilenet_v2", 384, 64, 14, 1, 1},
      {"mobilenet_v2", 960, 160, 7, 1, 1},
  };
  std::printf(
      "model         batch   IC   OC size kernel octet     octet ms GMAC/s direct ms  "
      "7-bit ms GMAC/s    f32 ms GMAC/s  7-bit/octet f32/octet\n");
  int status = 0;
  const char* only = std::getenv("OCTET_BENCH_SHAPE");
  for (const int64_t batch : batches) {
    for (int i = 0; i < static_cast<int>(sizeof(shapes) / sizeof(shapes[0])); ++i) {
      if (only && std::atoi(only) != i) continue;
      status |= Run(runs, batch, shapes[i]);
    }
  }
  return status;
}
