// The official tus-js-client against creo's resumable uploads: an upload stopped part way
// resumes from where the server stands (its first PATCH does not start at 0), ends as a
// medium the server measured, and a file whose content lies about its name, or a viewer, is
// refused with the status a tus client reads.
//
// Env: CREO_HTTP (the server's base URL), ACCOUNT, TOKEN (an editor's), VIEWER_TOKEN, FILE (a
// PNG), WIDTH and HEIGHT (its size).

import { readFileSync } from 'node:fs'
import assert from 'node:assert/strict'
import * as tus from 'tus-js-client'

const { CREO_HTTP, ACCOUNT, TOKEN, VIEWER_TOKEN, FILE, WIDTH, HEIGHT } = process.env
const endpoint = `${CREO_HTTP}/api/v1/accounts/${ACCOUNT}/uploads`
const file = readFileSync(FILE)

/** Runs one upload of `data`; `stopAt` (a fraction) aborts it once that much is sent. */
function upload(data, { token = TOKEN, name = 'roof.png', uploadUrl, stopAt, patches = [] } = {}) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      endpoint,
      uploadUrl,
      chunkSize: 256 * 1024,
      retryDelays: [100, 300, 1000, 2000],
      headers: { Authorization: `Bearer ${token}` },
      metadata: { filename: name, filetype: 'image/png' },
      onBeforeRequest(req) {
        if (req.getMethod() === 'PATCH') patches.push(Number(req.getHeader('Upload-Offset')))
      },
      onProgress(sent, total) {
        if (stopAt && sent >= total * stopAt) {
          stopAt = undefined
          u.abort(false).then(() => resolve({ stopped: true, url: u.url }))
        }
      },
      onSuccess({ lastResponse }) {
        resolve({ url: u.url, mediaId: lastResponse.getHeader('Creo-Media-Id') })
      },
      onError: reject,
    })
    u.start()
  })
}

const status = (err) => err.originalResponse?.getStatus()

// Stopped at 40%, then resumed by URL: the server's offset is where it goes on.
const first = await upload(file, { stopAt: 0.4 })
assert.ok(first.stopped && first.url, 'the first attempt stopped part way')
const patches = []
const done = await upload(file, { uploadUrl: first.url, patches })
assert.ok(patches[0] > 0, `the resumed upload starts past 0 (at ${patches[0]})`)
assert.match(done.mediaId ?? '', /^med_/, 'the last answer names the medium')
console.log(`tus: resumed at byte ${patches[0]} of ${file.length}, stored as ${done.mediaId}`)

const medium = await fetch(`${CREO_HTTP}/api/v1/accounts/${ACCOUNT}/media/${done.mediaId}`, {
  headers: { Authorization: `Bearer ${TOKEN}` },
}).then((r) => r.json())
assert.equal(medium.width, Number(WIDTH))
assert.equal(medium.height, Number(HEIGHT))
assert.equal(medium.file_name, 'roof.png')

// A ZIP named photo.png: refused (415) by its first bytes, and not retried.
const zip = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(4096)])
await assert.rejects(upload(zip, { name: 'photo.png' }), (err) => status(err) === 415)
// A viewer may not open an upload at all.
await assert.rejects(upload(file, { token: VIEWER_TOKEN }), (err) => status(err) === 403)

console.log('tus: all checks passed')
