// After `vite build`: dist/sw.js, the service worker that serves the editor's shell offline.
// It precaches every file the build wrote (index.html, the hashed assets, the icons and the
// manifest), under a cache named by a hash of them all, so each build installs its own shell
// and removes the last one's. Navigations get the cached index.html (the editor's addresses
// live in the hash); /api, /ws and /media are never cached or answered by it: documents are
// kept by y-indexeddb, and everything else needs the server.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { deflateSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname

// The install icons: creo's blue with a white ring, drawn here (PNG needs no tool).
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
const crc32 = (bytes) => {
  let c = 0xffffffff
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
const chunk = (type, data) => {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), 8 + data.length)
  return out
}
function icon(size) {
  const rows = Buffer.alloc(size * (1 + size * 3))
  const centre = size / 2
  for (let y = 0; y < size; y++) {
    rows[y * (1 + size * 3)] = 0
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x + 0.5 - centre, y + 0.5 - centre) / size
      const ring = d > 0.2 && d < 0.3
      const at = y * (1 + size * 3) + 1 + x * 3
      rows.set(ring ? [255, 255, 255] : [0x1f, 0x4f, 0xd8], at)
    }
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}
for (const size of [192, 512]) writeFileSync(join(dist, `icon-${size}.png`), icon(size))

function* files(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (!/\.(br|gz)$/.test(name) && name !== 'sw.js') yield path
  }
}
const hash = createHash('sha256')
const shell = []
for (const path of files(dist)) {
  shell.push(`/${relative(dist, path)}`)
  hash.update(path).update(readFileSync(path))
}
const version = hash.digest('hex').slice(0, 16)

const worker = `// Made by frontend/scripts/service-worker.mjs at build: the editor's shell, offline.
const CACHE = 'creo-shell-${version}'
const SHELL = ${JSON.stringify(shell)}
const NEVER = ['/api/', '/ws', '/media/', '/metrics', '/healthz', '/readyz', '/debug/']

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('creo-shell-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== location.origin) return
  if (NEVER.some((prefix) => url.pathname.startsWith(prefix))) return
  if (event.request.mode === 'navigate') {
    event.respondWith(caches.match('/index.html').then((page) => page ?? fetch(event.request)))
    return
  }
  event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(event.request)))
})
`
writeFileSync(join(dist, 'sw.js'), worker)
console.log(`sw.js: ${shell.length} files in cache creo-shell-${version}`)
