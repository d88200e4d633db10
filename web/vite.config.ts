import { defineConfig } from "vite";

// `npm run dev` serves the page on :5173 and forwards the API (and the local
// gateway's /config.json and /dev/*) to the gateway `make dev` runs.
const gateway = process.env.LIAISON_API ?? "http://127.0.0.1:3000";
const proxied = ["/threads", "/catalog", "/unread", "/dev", "/config.json"];

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2020",
    // Stable names, so a host page can link them (see the README).
    rollupOptions: {
      output: {
        entryFileNames: "assets/liaison.js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: (info) =>
          info.names?.some((n) => n.endsWith(".css")) ? "assets/liaison.css" : "assets/[name]-[hash][extname]",
      },
    },
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: gateway, changeOrigin: false }])),
  },
});
