// The media library as a team uses it: an image uploaded from the Media tab with a progress
// bar that moves (the upload throttled to 1 MB/s, so there is something to see), the stored
// medium dragged into the post, previewed as an Instagram story with the bands the app covers,
// and still in the post after a reload. A viewer sees the post's media and uploads nothing. An
// upload cut off by a lost connection waits, says so, and goes on from the server's offset.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { randomFillSync } from 'node:crypto'
import { deflateSync } from 'node:zlib'
import { accessibilityProblems, invite, launch, person, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'

let server
let browser
let ava
let victor
const contexts = []

before(async () => {
  server = await startServer()
  browser = await launch()
  ava = await person(server.base, 'ava')
  victor = await person(server.base, 'victor')
  await invite(server.base, ava, victor, 'viewer')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
})

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

/** A real `width` x `height` RGB PNG of noise (so it stays large once compressed). */
function png(width, height) {
  const stride = width * 3 + 1
  const rows = randomFillSync(Buffer.alloc(stride * height))
  for (let y = 0; y < height; y++) rows[y * stride] = 0 // each row's filter: none
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

test('an image uploaded with progress is dragged into the post and previewed with its safe zones', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  await page.getByLabel('New document title').fill('Story launch')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  await page.locator('.prose[data-field="post"]').click()
  await page.keyboard.type('New season, new stories.')
  await waitForSaveState(page, 'All changes saved')
  const docUrl = page.url()

  await page.getByRole('tab', { name: 'Media' }).click()
  const image = png(540, 960) // 9:16, about 1.5 MB of noise
  assert.ok(image.length > 1_000_000, `${image.length} bytes`)
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 1_000_000,
  })
  await page.getByLabel('Upload images or videos').setInputFiles({ name: 'tall.png', mimeType: 'image/png', buffer: image })
  const bar = page.getByTestId('upload-progress')
  await bar.waitFor()
  const seen = new Set()
  while ((await bar.count()) > 0) {
    const value = await bar.getAttribute('value').catch(() => null)
    if (value !== null) seen.add(Number(value).toFixed(2))
    await page.waitForTimeout(100)
  }
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  const partial = [...seen].map(Number).filter((v) => v > 0 && v < 1)
  assert.ok(partial.length >= 2, `the bar moved through the upload: ${[...seen].join(', ')}`)
  await page.getByRole('status').filter({ hasText: '“tall.png” is in the library (540 × 960)' }).waitFor()
  const medium = page.getByTestId('library-medium').filter({ hasText: 'tall.png' })
  await medium.waitFor()
  await medium.locator('img').waitFor()

  await medium.dragTo(page.getByTestId('post-media-drop'))
  await page.getByTestId('post-medium').locator('img').waitFor()
  const frame = page.getByTestId('preview-frame')
  await frame.waitFor()
  assert.equal(await page.getByTestId('safe-zone').count(), 2, 'an Instagram story covers its top and bottom')
  assert.match(await page.getByTestId('preview-fit').innerText(), /fills this format/)
  const box = await frame.boundingBox()
  assert.ok(Math.abs(box.width / box.height - 9 / 16) < 0.02, `a 9:16 frame: ${box.width} x ${box.height}`)
  assert.deepEqual(await accessibilityProblems(page), [])
  await screenshot(page, 'media-story-preview')

  await page.getByLabel('Preview as').selectOption('instagram-feed')
  assert.match(await page.getByTestId('preview-fit').innerText(), /not this shape/)
  assert.equal(await page.getByTestId('safe-zone').count(), 0)

  // It is in the document: after a reload, and for a viewer, who cannot upload.
  await page.reload()
  await page.getByTestId('post-medium').locator('img').waitFor()
  const viewer = await signIn(browser, server.base, victor, ava.tokens.account_id)
  contexts.push(viewer.context)
  await viewer.page.goto(docUrl)
  await viewer.page.getByTestId('post-medium').locator('img').waitFor()
  await viewer.page.getByRole('tab', { name: 'Media' }).click()
  await viewer.page.getByTestId('library-medium').filter({ hasText: 'tall.png' }).waitFor()
  assert.equal(await viewer.page.getByLabel('Upload images or videos').count(), 0)
  assert.equal(await viewer.page.getByRole('button', { name: /Remove/ }).count(), 0)
})

test('an upload cut off by a lost connection goes on from where it stopped once the browser is back online', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  await page.getByLabel('New document title').fill('Field report')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  await page.getByRole('tab', { name: 'Media' }).click()

  // What the page asks of the upload endpoint, in order: ["POST", "PATCH 0", …].
  const asked = []
  page.on('request', (req) => {
    if (!req.url().includes('/uploads')) return
    asked.push(req.method() === 'PATCH' ? `PATCH ${req.headers()['upload-offset']}` : req.method())
  })
  const image = png(1000, 1000) // about 3 MB of noise: two requests' worth
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 500_000 })
  await page.getByLabel('Upload images or videos').setInputFiles({ name: 'field.png', mimeType: 'image/png', buffer: image })
  const bar = page.getByTestId('upload-progress')
  await bar.waitFor()
  while (Number((await bar.getAttribute('value')) ?? 0) < 0.3) await page.waitForTimeout(50)

  // The train goes into a tunnel: the page says the upload waits, and does not give up.
  await context.setOffline(true)
  await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  await page.getByTestId('upload-waiting').waitFor()
  await screenshot(page, 'media-upload-waiting')
  await page.waitForTimeout(1000)
  assert.equal(await page.getByTestId('library-medium').filter({ hasText: 'field.png' }).count(), 0)
  const cut = asked.length

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  await context.setOffline(false)
  await page.getByRole('status').filter({ hasText: '“field.png” is in the library (1000 × 1000)' }).waitFor()
  assert.equal(await page.getByTestId('upload-waiting').count(), 0)
  // Back online, it asked the server where the upload stands (HEAD) and went on from there:
  // one upload, never started again from byte 0.
  const after = asked.slice(cut)
  assert.equal(after[0], 'HEAD', asked.join(', '))
  assert.ok(after.some((a) => a.startsWith('PATCH ')), asked.join(', '))
  assert.ok(after.every((a) => a === 'HEAD' || (a.startsWith('PATCH ') && a !== 'PATCH 0')), asked.join(', '))
  assert.equal(asked.filter((a) => a === 'POST').length, 1, asked.join(', '))
})
