// What Octet's int8 kernel benchmarks share: timing a kernel over runs, and oneDNN's float
// convolution on one shape, in the layouts it picks (what a float plan runs), with its source and
// weights filled, to time theirs against.
#ifndef OCTET_BENCH_ONEDNN_FLOAT_CONV_H_
#define OCTET_BENCH_ONEDNN_FLOAT_CONV_H_

#include <algorithm>
#include <chrono>
#include <vector>

#include "dnnl.hpp"

namespace octet::bench {

// The median and the smallest of `runs` timed calls of `run`, in ms, after two untimed ones.
struct Timing {
  double median, min;
};

template <typename F>
Timing Time(int runs, F run) {
  std::vector<double> times;
  for (int r = 0; r < runs + 2; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (r >= 2) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

class FloatConv {
 public:
  // `weights` as oneDNN takes them ([O, I, KH, KW], or [G, O/G, I/G, KH, KW] when grouped).
  FloatConv(const dnnl::engine& engine, const dnnl::memory::dims& src,
            const dnnl::memory::dims& weights, const dnnl::memory::dims& dst,
            const dnnl::memory::desc& bias, const dnnl::memory::dims& strides,
            const dnnl::memory::dims& pad_l, const dnnl::memory::dims& pad_r,
            const dnnl::post_ops& ops)
      : pd_(Describe(engine, src, weights, dst, bias, strides, pad_l, pad_r, ops)),
        conv_(pd_),
        src_(pd_.src_desc(), engine),
        dst_(pd_.dst_desc(), engine),
        weights_(pd_.weights_desc(), engine) {
    std::fill_n(static_cast<float*>(src_.get_data_handle()),
                pd_.src_desc().get_size() / sizeof(float), 1.0f);
    std::fill_n(static_cast<float*>(weights_.get_data_handle()),
                pd_.weights_desc().get_size() / sizeof(float), 0.5f);
  }

  // One convolution, waited for.
  void Run(dnnl::stream& stream, const dnnl::memory& bias) {
    conv_.execute(stream, {{DNNL_ARG_SRC, src_},
                           {DNNL_ARG_WEIGHTS, weights_},
                           {DNNL_ARG_BIAS, bias},
                           {DNNL_ARG_DST, dst_}});
    stream.wait();
  }

  const char* implementation() const { return pd_.impl_info_str(); }

 private:
  static dnnl::convolution_forward::primitive_desc Describe(
      const dnnl::engine& engine, const dnnl::memory::dims& src, const dnnl::memory::dims& weights,
      const dnnl::memory::dims& dst, const dnnl::memory::desc& bias,
      const dnnl::memory::dims& strides, const dnnl::memory::dims& pad_l,
      const dnnl::memory::dims& pad_r, const dnnl::post_ops& ops) {
    using dnnl::memory;
    const auto any = [](const memory::dims& dims) {
      return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
    };
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, any(src),
                                         any(weights), bias, any(dst), strides, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
  }

  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward conv_;
  dnnl::memory src_, dst_, weights_;
};

}  // namespace octet::bench

#endif  // OCTET_BENCH_ONEDNN_FLOAT_CONV_H_
