import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// `npm run dev` proxies the API and the socket to a creo server on its default address;
// `npm run build` writes dist/, which `creo serve` serves at `/`.
const creo = process.env.CREO_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': creo,
      '/ws': { target: creo.replace(/^http/, 'ws'), ws: true },
    },
  },
  // No source maps in what is served: they would publish the whole source. `vite build
  // --sourcemap` makes them locally when a stack trace needs reading.
  build: { outDir: 'dist', sourcemap: false },
})
