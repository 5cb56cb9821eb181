// Bundle frontend/src/*.js (one ES module per page) into frontend/static/dist/.
//
//   node build.mjs           rebuild static/dist/ (committed, so a Python-only install works)
//   node build.mjs --check   build into a temporary directory and compare byte for byte
//                            with static/dist/; exit 1 listing the differing files
//
// The output is deterministic: same sources and same locked packages give the
// same bytes (no timestamps, content-hashed chunk names, sorted manifest).

import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(ROOT, "src");
const DIST = path.join(ROOT, "static", "dist");
const AXE = path.join(ROOT, "node_modules", "axe-core", "axe.min.js");

async function entryPoints() {
  const names = (await readdir(SRC, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name.endsWith(".js"))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) throw new Error(`no entry points in ${SRC}`);
  return names.map((name) => path.join(SRC, name));
}

// Every file under dir, as sorted POSIX paths relative to dir.
async function listFiles(dir) {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)).split(path.sep).join("/"))
    .sort();
}

async function build(outdir) {
  const entries = await entryPoints();
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entries,
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    sourcemap: false,
    legalComments: "eof",
    charset: "utf8",
    entryNames: "[name]",
    chunkNames: "chunks/[name]-[hash]",
    assetNames: "assets/[name]-[hash]",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  await copyFile(AXE, path.join(outdir, "axe.min.js"));

  const files = {};
  for (const name of await listFiles(outdir)) {
    const bytes = await readFile(path.join(outdir, name));
    files[name] = { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  }
  const manifest = {
    generator: `esbuild ${esbuild.version}`,
    // page module name -> file to load with <script type="module">
    entries: Object.fromEntries(entries.map((file) => [path.basename(file, ".js"), path.basename(file)])),
    files,
  };
  await writeFile(path.join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

async function check() {
  const tmp = await mkdtemp(path.join(tmpdir(), "tinycrm-dist-"));
  try {
    await build(tmp);
    const fresh = await listFiles(tmp);
    const committed = await listFiles(DIST);
    const problems = [];
    for (const name of fresh) {
      if (!committed.includes(name)) {
        problems.push(`missing:  ${name}`);
      } else if (!(await readFile(path.join(tmp, name))).equals(await readFile(path.join(DIST, name)))) {
        problems.push(`differs:  ${name}`);
      }
    }
    for (const name of committed) {
      if (!fresh.includes(name)) problems.push(`stale:    ${name}`);
    }
    if (problems.length > 0) {
      console.error("frontend/static/dist/ is out of date with frontend/src/ and package-lock.json:");
      for (const line of problems) console.error(`  ${line}`);
      console.error("Rebuild with `cd frontend && npm ci && npm run build` and commit static/dist/.");
      return 1;
    }
    console.log(`frontend/static/dist/ is up to date (${fresh.length} files).`);
    return 0;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function rebuild() {
  // Build beside dist/ and swap it in, so stale chunks never linger and a
  // failed build leaves the old dist/ untouched.
  await mkdir(path.dirname(DIST), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(DIST), ".dist-"));
  try {
    await build(staging);
    await chmod(staging, 0o755); // mkdtemp makes it 0700
    await rm(DIST, { recursive: true, force: true });
    await rename(staging, DIST);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const files = await listFiles(DIST);
  console.log(`built ${files.length} files into ${path.relative(process.cwd(), DIST) || "."}`);
  return 0;
}

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== "--check");
if (unknown.length > 0) {
  console.error(`usage: node build.mjs [--check]  (unknown: ${unknown.join(" ")})`);
  process.exit(2);
}
process.exitCode = await (args.includes("--check") ? check() : rebuild());
