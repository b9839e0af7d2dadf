// Builds the app into dist/: one hashed JS and one hashed CSS file under
// dist/assets/ for each page, and the pages naming them: index.html (the app,
// src/main.ts) and docs.html (the API reference at /docs, src/docs.ts). The output depends only on the
// sources and the pinned esbuild, so CI can compare it with the committed copy.
import * as esbuild from "esbuild";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const dir = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(dir, "dist");
const watch = process.argv.includes("--watch");

await rm(dist, { recursive: true, force: true });

const options = {
  absWorkingDir: dir,
  entryPoints: ["src/main.ts", "src/docs.ts"],
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  outdir: "dist",
  entryNames: "assets/[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  plugins: [{ name: "index-html", setup: (build) => build.onEnd(writeIndex) }],
};

async function writeIndex(result) {
  if (result.errors.length > 0) return;
  const outputs = Object.keys(result.metafile.outputs).map((p) => "/" + path.relative("dist", p));
  for (const [page, entry] of [["index.html", "main"], ["docs.html", "docs"]]) {
    const js = outputs.find((p) => p.startsWith(`/assets/${entry}-`) && p.endsWith(".js"));
    const css = outputs.find((p) => p.startsWith(`/assets/${entry}-`) && p.endsWith(".css"));
    const html = (await readFile(path.join(dir, page), "utf8"))
      .replace("<!-- css -->", `<link rel="stylesheet" href="${css}">`)
      .replace("<!-- js -->", `<script type="module" src="${js}"></script>`);
    await writeFile(path.join(dist, page), html);
  }
  // In watch mode, drop the previous build's assets so dist/ holds one build.
  for (const name of await readdir(path.join(dist, "assets"))) {
    if (!outputs.includes(`/assets/${name}`)) await rm(path.join(dist, "assets", name));
  }
}

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("watching src/ (serve dist/ with parleyd)");
} else {
  await esbuild.build(options);
}
