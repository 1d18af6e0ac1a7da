// Every oneDNN implementation of one float convolution, timed: the check behind "oneDNN has
// nothing faster for this shape" (primitive_desc::next_impl walks them in oneDNN's own order of
// preference).
//   octet_conv_impls THREADS RUNS BATCH IN_CHANNELS OUT_CHANNELS SIZE KERNEL STRIDE
// Square SIZE x SIZE input, KERNEL x KERNEL filter, padding KERNEL / 2, Relu fused. Prints one
// JSON line per implementation: its name, the source layout it asked for, median/min ms and
// GMAC/s at the minimum.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "dnnl.hpp"

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: octet_conv_impls THREADS RUNS BATCH IN_CHANNELS OUT_CHANNELS SIZE KERNEL "
                 "STRIDE\n";
    return 2;
  }
  std::vector<long> a;
  for (int i = 1; i < argc; ++i) a.push_back(std::atol(argv[i]));
  const int runs = static_cast<int>(std::max(1L, a[1]));
  const long n = a[2], ic = a[3], oc = a[4], size = a[5], k = a[6], stride = a[7], pad = k / 2;
  if (std::min({a[0], n, ic, oc, size, k, stride}) < 1 || size + 2 * pad < k) {
    std::cerr << "octet_conv_impls: every argument must be positive, SIZE + 2 * (KERNEL / 2) "
                 ">= KERNEL\n";
    return 2;
  }
  omp_set_num_threads(static_cast<int>(a[0]));
  const long out = (size + 2 * pad - k) / stride + 1;
  const double macs = static_cast<double>(n) * oc * out * out * ic * k * k;
  using dnnl::memory;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto f32 = memory::data_type::f32;
  const memory::desc src({n, ic, size, size}, f32, memory::format_tag::any);
  const memory::desc weights({oc, ic, k, k}, f32, memory::format_tag::any);
  const memory::desc bias({oc}, f32, memory::format_tag::x);
  const memory::desc dst({n, oc, out, out}, f32, memory::format_tag::any);
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, weights, bias,
      dst, {stride, stride}, {pad, pad}, {pad, pad});
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
  do {
    const std::string name = pd.impl_info_str();
    if (name.rfind("ref", 0) == 0) continue;  // the reference loops: minutes, not a contender
    memory x(pd.src_desc(), engine), w(pd.weights_desc(), engine), b(bias, engine),
        y(pd.dst_desc(), engine);
    for (memory* m : {&x, &w, &b}) {
      float* data = static_cast<float*>(m->get_data_handle());
      const size_t count = m->get_desc().get_size() / sizeof(float);
      for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(i % 17) * 0.01f;
    }
    dnnl::convolution_forward conv(pd);
    std::vector<double> times;
    for (int r = 0; r < runs + 2; ++r) {
      const auto start = std::chrono::steady_clock::now();
      conv.execute(stream, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b},
                            {DNNL_ARG_DST, y}});
      stream.wait();
      const auto end = std::chrono::steady_clock::now();
      if (r >= 2) times.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    std::sort(times.begin(), times.end());
    const bool blocked = pd.src_desc().data.format_desc.blocking.inner_nblks > 0;
    std::cout << "{\"implementation\": \"" << name << "\", \"source\": \""
              << (blocked ? "blocked" : "plain") << "\", \"median_ms\": "
              << times[times.size() / 2] << ", \"min_ms\": " << times.front()
              << ", \"gmacs_per_s\": " << macs / times.front() / 1e6 << "}\n";
  } while (pd.next_impl());
  return 0;
}
