// Bundles the page for shuo: src/main.js with marked, DOMPurify and highlight.js (from
// node_modules) into one minified ES module, the styles (highlight.js's light and dark themes
// behind prefers-color-scheme) into one CSS file, and copies index.html.
//   node build.mjs --out DIR   →  DIR/index.html, DIR/assets/app.js, DIR/assets/app.css
// CMake runs it into the build tree and embeds the result (cmake/web.cmake); `shuo serve
// --web-root DIR` serves a DIR built this way without rebuilding shuo.
import { build } from "esbuild";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf("--out");
if (at < 0 || !process.argv[at + 1]) {
  console.error("usage: node build.mjs --out DIR");
  process.exit(2);
}
const out = process.argv[at + 1];
await mkdir(join(out, "assets"), { recursive: true });

await build({
  entryPoints: [join(here, "src/main.js")],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "inline", // the libraries' licence headers stay in the bundle
  outfile: join(out, "assets/app.js"),
  logLevel: "warning",
});

const read = (p) => readFile(join(here, p), "utf8");
const css = [
  await read("src/style.css"),
  await read("node_modules/highlight.js/styles/github.css"),
  "@media (prefers-color-scheme: dark) {\n" + (await read("node_modules/highlight.js/styles/github-dark.css")) + "\n}\n",
].join("\n");
await writeFile(join(out, "assets/app.css"), css);
await writeFile(join(out, "index.html"), await read("src/index.html"));
