// Fails when the JavaScript in dist/ is over the budget, gzipped.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 60 * 1024;
function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}
let total = 0;
for (const f of files("dist")) {
  if (!/\.m?js$/.test(f)) continue;
  const size = gzipSync(readFileSync(f), { level: 9 }).length;
  console.log(`${f}: ${(size / 1024).toFixed(1)} KB gzip`);
  total += size;
}
if (total === 0) {
  console.error("no JavaScript in dist/: run `npm run build` first");
  process.exit(1);
}
console.log(`all JavaScript: ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) process.exit(1);
