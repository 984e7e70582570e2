// The demo page: MiniLM sentence similarity on WebGPU, and the device check.
// Contract for automated checks: `/?texts=A|B|C` embeds those texts and
// writes the embeddings as a JSON array of arrays into <pre id="embeddings">,
// or the error message into <pre id="error">.
import init, { Embedder, adapterInfo, checkDevice } from "./pkg/wgraph_web.js";

const DEFAULT_TEXTS = [
  "waste of money",
  "terrible product, I want a refund",
  "best purchase all year",
  "the parcel arrived on time",
];

const $ = (id) => document.getElementById(id);

function showError(e) {
  const message = e instanceof Error ? e.message : String(e);
  $("error").textContent = message;
  $("error").hidden = false;
  console.error(e);
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

// A cell's colour: white at 0, deep blue at 1, red below 0.
function shade(c) {
  const t = Math.min(1, Math.abs(c));
  const light = Math.round(97 - 52 * t);
  return c >= 0 ? `hsl(215 80% ${light}%)` : `hsl(0 75% ${light}%)`;
}

function drawMatrix(texts, vectors) {
  const table = document.createElement("table");
  table.className = "similarity";
  const head = table.insertRow();
  head.insertCell().outerHTML = "<th></th>";
  texts.forEach((_, j) => { head.insertCell().outerHTML = `<th>[${j}]</th>`; });
  texts.forEach((t, i) => {
    const row = table.insertRow();
    const label = document.createElement("th");
    label.textContent = `[${i}] ${t}`;
    row.appendChild(label);
    texts.forEach((_, j) => {
      const c = cosine(vectors[i], vectors[j]);
      const cell = row.insertCell();
      cell.textContent = c.toFixed(3);
      cell.style.background = shade(c);
      cell.dataset.cosine = c;
    });
  });
  $("matrix").replaceChildren(table);
}

// What the browser tells about its adapter (wgpu's info lacks the name there).
async function browserAdapterInfo() {
  if (!navigator.gpu) return "";
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return "";
  const info = adapter.info || {};
  const parts = [info.vendor, info.architecture, info.description].filter((p) => p);
  const fallback = info.isFallbackAdapter ? " (a fallback adapter: the CPU, not a GPU)" : "";
  return parts.length ? ` — ${parts.join(", ")}${fallback}` : fallback;
}

let embedder = null;

async function embedTexts(texts) {
  const started = performance.now();
  const flat = await embedder.embed(texts);
  const ms = performance.now() - started;
  const dim = embedder.dim;
  const vectors = texts.map((_, i) => Array.from(flat.subarray(i * dim, (i + 1) * dim)));
  drawMatrix(texts, vectors);
  $("timings").textContent += ` · embedded ${texts.length} texts in ${ms.toFixed(0)} ms`;
  $("embeddings").textContent = JSON.stringify(vectors);
  $("embeddings").hidden = false;
}

async function main() {
  const asked = new URLSearchParams(location.search).get("texts");
  const texts = asked ? asked.split("|").filter((t) => t.length > 0) : DEFAULT_TEXTS;
  $("texts").value = texts.join("\n");
  await init();
  $("adapter").textContent = `WebGPU adapter: ${await adapterInfo()}${await browserAdapterInfo()}`;
  const started = performance.now();
  embedder = await Embedder.fromUrl(new URL("model", location.href).href);
  $("timings").textContent = `model loaded and compiled in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  $("embed").disabled = false;
  await embedTexts(texts);
}

$("embed").addEventListener("click", async () => {
  $("error").hidden = true;
  const texts = $("texts").value.split("\n").map((t) => t.trim()).filter((t) => t.length > 0);
  try { await embedTexts(texts); } catch (e) { showError(e); }
});

$("check").addEventListener("click", async () => {
  $("check").disabled = true;
  $("check-report").textContent = "";
  try {
    const report = await checkDevice((name, done, total) => {
      $("check-progress").textContent = `op ${done + 1} of ${total}: ${name}`;
    });
    $("check-progress").textContent = "";
    const lines = [report.summary];
    for (const f of report.failures) lines.push(`  ${f.case} (seed ${f.seed}, ${f.fused ? "fused" : "unfused"}): ${f.detail}`);
    $("check-report").textContent = lines.join("\n");
  } catch (e) {
    showError(e);
  } finally {
    $("check").disabled = false;
  }
});

main().catch(showError);
