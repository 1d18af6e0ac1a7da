// Times ONNX Runtime (CPU, from onnxruntime-node) on one model, as octet_float_bench does:
//   node ort_float_bench.js MODEL.onnx BATCH THREADS RUNS
const ort = require('onnxruntime-node');

async function main() {
  const [model, batchText, threadsText, runsText] = process.argv.slice(2);
  const batch = Number(batchText), threads = Number(threadsText), runs = Number(runsText);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all'});
  const feeds = {};
  let seed = 7;
  for (const name of session.inputNames) {
    const meta = session.inputMetadata ? session.inputMetadata[name] : null;
    // onnxruntime-node 1.20 exposes no input shapes; the models here take [N, C, H, W] images.
    const dims = process.env.OCTET_BENCH_INPUT_SHAPE.split(',').map(Number);
    dims[0] = batch;
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; ++i) { seed = (seed * 1103515245 + 12345) % 2147483648; data[i] = seed / 2147483648; }
    feeds[name] = new ort.Tensor('float32', data, dims);
    void meta;
  }
  const times = [];
  for (let r = 0; r < runs + 2; ++r) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r >= 2) times.push(ms);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
                              max_ms: times[times.length - 1], runs: times.length}));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
