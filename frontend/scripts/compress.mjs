// After `vite build`: a brotli and a gzip copy beside each text asset in dist/, so creo sends
// compressed files without compressing per request (src/http/frontend.rs). Node's own zlib:
// no dependency needed.

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const compressible = /\.(js|css|html|svg|json|txt)$/

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (compressible.test(name)) yield path
  }
}

for (const path of files(dist)) {
  const raw = readFileSync(path)
  if (raw.length < 1024) continue
  const br = brotliCompressSync(raw, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  })
  const gz = gzipSync(raw, { level: 9 })
  writeFileSync(`${path}.br`, br)
  writeFileSync(`${path}.gz`, gz)
  console.log(`${path.slice(dist.length)}: ${raw.length} B, brotli ${br.length} B, gzip ${gz.length} B`)
}
