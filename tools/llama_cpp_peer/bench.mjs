// llama.cpp (through node-llama-cpp's prebuilt binaries) on one GGUF file:
// prefill of P tokens, greedy decode of G tokens after a prompt, peak RSS.
// One backend per process, so each peak is its own (tools/llama_cpp_peer/run.sh).
//
//   node bench.mjs MODEL.gguf cpu|vulkan --threads 2 --prompt-len 16 --generate 32 --prefill 128 --reps 3
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, backend, ...rest] = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? Number(rest[i + 1]) : fallback;
};
const threads = flag("threads", 2);
const promptLen = flag("prompt-len", 16);
const generate = flag("generate", 32);
const prefillLen = flag("prefill", 128);
const reps = flag("reps", 3);
if (!modelPath || !["cpu", "vulkan"].includes(backend)) {
  console.error("usage: node bench.mjs MODEL.gguf cpu|vulkan [--threads N] [--prompt-len P] [--generate G] [--prefill N] [--reps R]");
  process.exit(2);
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const llama = await getLlama({ gpu: backend === "vulkan" ? "vulkan" : false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: backend === "vulkan" ? "max" : 0 });
const context = await model.createContext({ contextSize: 512, batchSize: 512, threads });
const sequence = context.getSequence();

// Ordinary English text, repeated until it holds enough tokens.
const text = "The history of the city begins with a small settlement on the river, where traders met to exchange grain, "
  + "salt and cloth. Over the centuries the market grew into a town, the town into a city, and the city into a "
  + "capital whose bridges, churches and libraries drew scholars and merchants from every corner of the continent. ";
let tokens = [];
while (tokens.length < Math.max(promptLen, prefillLen)) tokens = tokens.concat(model.tokenize(text));

// Prefill: the first `prefillLen` tokens evaluated in one batch, no token drawn.
const prefill = [];
for (let r = 0; r < reps + 1; r++) {
  await sequence.clearHistory();
  const t = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(0, prefillLen));
  if (r > 0) prefill.push(performance.now() - t); // the first run warms up
}

// Decode: greedy, `generate` tokens after a `promptLen`-token prompt; the
// time from the first drawn token to the last, per token.
const decode = [];
for (let r = 0; r < reps + 1; r++) {
  await sequence.clearHistory();
  let first = 0, count = 0;
  for await (const _ of sequence.evaluate(tokens.slice(0, promptLen), { temperature: 0 })) {
    if (count === 0) first = performance.now();
    count += 1;
    if (count > generate) break;
  }
  if (r > 0) decode.push((performance.now() - first) / generate);
}

const result = {
  backend,
  threads,
  prefill_tokens: prefillLen,
  prefill_ms: median(prefill),
  prefill_tokens_per_s: prefillLen / (median(prefill) / 1e3),
  prompt_len: promptLen,
  generate,
  decode_ms_per_token: median(decode),
  tokens_per_s: 1e3 / median(decode),
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
};
console.log(JSON.stringify(result));
await context.dispose();
await model.dispose();
await llama.dispose();
