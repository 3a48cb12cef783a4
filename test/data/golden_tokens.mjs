// Reference GPT-2 token ids from js-tiktoken (getEncoding("gpt2"), encode(text, "all")).
//
//   node golden_tokens.mjs IN TEXT.txt IDS.json
//       reads IN as UTF-8 (like readFileSync(..., "utf8"): invalid bytes become U+FFFD), writes
//       the text that was actually encoded to TEXT.txt (UTF-8) and its ids to IDS.json
//   node golden_tokens.mjs --bench FILE...     encoder throughput in MB/s (same JSON shape as
//                                              `tokenize bench`), first pass and best of 5
//
// js-tiktoken is resolved from NODE_PATH (make_golden.sh points it at .cache/npm-golden).
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const modules = path.resolve(process.env.NODE_PATH || "node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const { getEncoding } = require("js-tiktoken");
// The package's "exports" hide package.json from require(), so read it as a file.
const version = JSON.parse(readFileSync(path.join(modules, "js-tiktoken", "package.json"), "utf8")).version;
if (version !== "1.0.21") {
  console.error(`error: js-tiktoken ${version} found, the golden ids are pinned to 1.0.21`);
  process.exit(1);
}
const enc = getEncoding("gpt2");
const args = process.argv.slice(2);

if (args[0] === "--bench") {
  const docs = args.slice(1).map((f) => readFileSync(f, "utf8"));
  // MB of UTF-8 bytes, the same unit the C++ benchmark uses.
  const mb = docs.reduce((s, d) => s + Buffer.byteLength(d, "utf8"), 0) / 1e6;
  let first = 0, best = Infinity, tokens = 0;
  for (let r = 0; r <= 5; r++) {
    const t0 = process.hrtime.bigint();
    tokens = 0;
    for (const d of docs) tokens += enc.encode(d, "all").length;
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r === 0) first = dt; else best = Math.min(best, dt);
  }
  console.log(JSON.stringify({ encoder: "js-tiktoken 1.0.21", files: docs.length, MB: +mb.toFixed(3), tokens,
    first_pass_MB_s: +(mb / first).toFixed(2), best_MB_s: +(mb / best).toFixed(2) }));
} else if (args.length === 3) {
  const text = readFileSync(args[0], "utf8");
  const ids = enc.encode(text, "all");
  for (const [file, data] of [[args[1], Buffer.from(text, "utf8")], [args[2], JSON.stringify(ids) + "\n"]]) {
    writeFileSync(file + ".tmp", data);
    renameSync(file + ".tmp", file);
  }
} else {
  console.error("usage: node golden_tokens.mjs IN TEXT.txt IDS.json | --bench FILE...");
  process.exit(2);
}
