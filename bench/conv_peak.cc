// The peak the int8 benchmark measures Octet against: one oneDNN convolution, 3x3, 64 -> 64
// channels, 56x56, pad 1, batch 32, in the layouts oneDNN prefers, timed alone (no graph, no
// reorders), u8 x s8 -> u8 without zero points, and the same convolution in f32 for reference.
//   octet_conv_peak THREADS RUNS
// Prints one JSON line per data type: implementation, median/min/max ms, and GMAC/s at the best
// (minimum) time: the peak, which on a shared machine the median understates.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "dnnl.hpp"

namespace {

using dnnl::memory;

void Measure(bool int8, int runs) {
  const memory::dim n = 32, c = 64, size = 56;
  const double macs = static_cast<double>(n) * c * size * size * c * 9;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::data_type act = int8 ? memory::data_type::u8 : memory::data_type::f32;
  const memory::data_type wei = int8 ? memory::data_type::s8 : memory::data_type::f32;
  const memory::desc src({n, c, size, size}, act, memory::format_tag::any);
  const memory::desc weights({c, c, 3, 3}, wei, memory::format_tag::any);
  const memory::desc dst({n, c, size, size}, act, memory::format_tag::any);
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, src, weights, dst,
                                       {1, 1}, {1, 1}, {1, 1});
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(0, {0.01f});
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
  memory src_memory(pd.src_desc(), engine), weights_memory(pd.weights_desc(), engine),
      dst_memory(pd.dst_desc(), engine);
  // Small values: the result does not matter, only that the data is not all zeros.
  std::fill_n(static_cast<char*>(src_memory.get_data_handle()), pd.src_desc().get_size(), 3);
  std::fill_n(static_cast<char*>(weights_memory.get_data_handle()), pd.weights_desc().get_size(),
              1);
  dnnl::convolution_forward conv(pd);
  std::vector<double> times;
  for (int r = 0; r < runs + 2; ++r) {
    const auto start = std::chrono::steady_clock::now();
    conv.execute(stream, {{DNNL_ARG_SRC, src_memory},
                          {DNNL_ARG_WEIGHTS, weights_memory},
                          {DNNL_ARG_DST, dst_memory}});
    stream.wait();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (r >= 2) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  std::cout << "{\"type\": \"" << (int8 ? "u8s8" : "f32") << "\", \"implementation\": \""
            << pd.impl_info_str() << "\", \"median_ms\": " << median
            << ", \"min_ms\": " << times.front() << ", \"max_ms\": " << times.back()
            << ", \"gmacs_per_s\": " << macs / times.front() / 1e6 << "}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: octet_conv_peak THREADS RUNS\n";
    return 2;
  }
  omp_set_num_threads(std::atoi(argv[1]));
  const int runs = std::max(1, std::atoi(argv[2]));
  Measure(true, runs);
  Measure(false, runs);
  return 0;
}
