// Fails when src/api/schema.d.ts is not what openapi-typescript makes of
// ../infra/openapi.yaml today (run `npm run gen:api` and commit the result).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "liaison-api-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["openapi-typescript", "../infra/openapi.yaml", "-o", fresh], { stdio: "pipe" });
  const a = readFileSync(fresh, "utf8");
  const b = readFileSync("src/api/schema.d.ts", "utf8");
  if (a !== b) {
    console.error("src/api/schema.d.ts is out of date with infra/openapi.yaml: run `npm run gen:api` in web/ and commit it.");
    process.exit(1);
  }
  console.log("src/api/schema.d.ts matches infra/openapi.yaml");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
