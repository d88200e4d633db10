// Fails when the JavaScript in dist/ is over the budget, gzipped.
// With --json, prints the figures as JSON instead (JavaScript and CSS, each
// file raw and gzip level 9; `make bench` reads them) and still fails over
// the budget.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 60 * 1024;
const json = process.argv.includes("--json");
function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}
const js = [];
const css = [];
for (const f of files("dist")) {
  const into = /\.m?js$/.test(f) ? js : /\.css$/.test(f) ? css : null;
  if (!into) continue;
  const raw = readFileSync(f);
  into.push({ file: f, bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length });
}
const total = js.reduce((n, f) => n + f.gzip, 0);
if (total === 0) {
  console.error("no JavaScript in dist/: run `npm run build` first");
  process.exit(1);
}
if (json) {
  const cssTotal = css.reduce((n, f) => n + f.gzip, 0);
  console.log(JSON.stringify({ budget_gzip: BUDGET, js_gzip: total, css_gzip: cssTotal, js, css }));
} else {
  for (const f of js) console.log(`${f.file}: ${(f.gzip / 1024).toFixed(1)} KB gzip`);
  console.log(`all JavaScript: ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET / 1024} KB)`);
}
if (total > BUDGET) process.exit(1);
