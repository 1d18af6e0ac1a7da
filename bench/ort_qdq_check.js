// Runs a QDQ model exported by Octet in ONNX Runtime and compares its outputs with Octet's
// simulation of the same file:  node ort_qdq_check.js MODEL.onnx INPUTS.npy OCTET.npy
// Prints one JSON object: top-1 agreement, the largest difference, and the share of outputs within
// one step of an 8-bit grid over the output's range.
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const bytes = fs.readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + headerLength);
  if (!header.includes("'<f4'")) throw new Error(`${path}: float32 expected`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const start = 10 + headerLength;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return {shape, data};
}

async function main() {
  const [model, inputsPath, octetPath] = process.argv.slice(2);
  const inputs = readNpy(inputsPath), octet = readNpy(octetPath);
  // OCTET_ORT_OPTIMIZATION=disabled runs the QDQ nodes as written (float between Q and DQ)
  // instead of ONNX Runtime's fused int8 kernels.
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2, graphOptimizationLevel: process.env.OCTET_ORT_OPTIMIZATION || 'all'});
  const result = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', inputs.data, inputs.shape)});
  const ortOut = result[session.outputNames[0]].data;
  const classes = octet.shape[octet.shape.length - 1], rows = octet.data.length / classes;
  let min = Infinity, max = -Infinity;
  for (const v of octet.data) { min = Math.min(min, v); max = Math.max(max, v); }
  const step = (max - min) / 255;
  let agree = 0, within = 0, largest = 0;
  for (let r = 0; r < rows; ++r) {
    let a = 0, b = 0;
    for (let c = 0; c < classes; ++c) {
      const i = r * classes + c;
      if (octet.data[i] > octet.data[r * classes + a]) a = c;
      if (ortOut[i] > ortOut[r * classes + b]) b = c;
      const d = Math.abs(octet.data[i] - ortOut[i]);
      largest = Math.max(largest, d);
      if (d <= step) within++;
    }
    if (a === b) agree++;
  }
  console.log(JSON.stringify({samples: rows, top1_agreement: agree / rows, max_abs_difference: largest,
                              output_step: step, share_within_one_step: within / octet.data.length}));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
