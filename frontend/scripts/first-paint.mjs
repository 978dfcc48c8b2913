// First paint and time to interactive of the built editor on a slow phone connection, measured
// in Chromium with the DevTools protocol's throttling (Lighthouse's "slow 4G": 562.5 ms RTT,
// 1.47 Mbit/s down, 675 kbit/s up, CPU 4x slower). Usage, from frontend/ after `npm run build`
// and `cargo build`:
//
//   node scripts/first-paint.mjs [label=creo-binary:dist-folder ...]
//
// With no arguments it measures this checkout (target/debug/creo serving dist/). Each run is a
// cold load (a fresh browser context, nothing cached) of the login page and of a document; the
// median of five is printed per build. A measurement, not a test: compare builds in one run.

import { person, rest, startServer, launch } from '../tests/harness.mjs'

const SLOW_4G = { offline: false, latency: 562.5, downloadThroughput: (1474.56 * 1024) / 8, uploadThroughput: (675 * 1024) / 8 }
const RUNS = 5

const builds = process.argv.slice(2).map((arg) => {
  const [label, rest] = arg.split('=')
  const [bin, dist] = rest.split(':')
  return { label, bin, dist }
})
if (builds.length === 0) builds.push({ label: 'this checkout' })

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function coldLoad(browser, url, session, ready) {
  const context = await browser.newContext({ viewport: { width: 412, height: 823 }, isMobile: true })
  if (session) await context.addInitScript((s) => localStorage.setItem('creo.session', s), JSON.stringify(session))
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
  await cdp.send('Network.emulateNetworkConditions', SLOW_4G)
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 })
  let bytes = 0
  cdp.on('Network.loadingFinished', (e) => (bytes += e.encodedDataLength))
  const start = Date.now()
  await page.goto(url, { waitUntil: 'commit' })
  await ready(page)
  const interactive = Date.now() - start
  const paint = await page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  )
  await context.close()
  return { paint, interactive, bytes }
}

const results = []
for (const build of builds) {
  if (build.bin) process.env.CREO_BIN = build.bin
  else delete process.env.CREO_BIN
  if (build.dist) process.env.CREO_FRONTEND = build.dist
  else delete process.env.CREO_FRONTEND
  const server = await startServer()
  const browser = await launch()
  const who = await person(server.base, 'perf')
  await rest(server.base, '/documents', { method: 'POST', token: who.tokens.access_token, body: { id: 'perf-doc' } })
  const session = {
    accessToken: who.tokens.access_token,
    refreshToken: who.tokens.refresh_token,
    expiresAt: Date.now() + who.tokens.expires_in * 1000,
    userId: who.tokens.user_id,
    email: who.email,
    accountId: who.tokens.account_id,
    role: who.tokens.role,
  }
  const login = []
  const editor = []
  for (let i = 0; i < RUNS; i++) {
    login.push(await coldLoad(browser, `${server.base}/`, null, (p) => p.getByLabel('Email').waitFor({ timeout: 120_000 })))
    editor.push(
      await coldLoad(browser, `${server.base}/#/doc/perf-doc`, session, (p) =>
        p.getByText('All changes saved').waitFor({ timeout: 120_000 }),
      ),
    )
  }
  results.push({
    build: build.label,
    'login first paint ms': Math.round(median(login.map((r) => r.paint))),
    'login interactive ms': median(login.map((r) => r.interactive)),
    'login KiB': Math.round(median(login.map((r) => r.bytes)) / 1024),
    'document first paint ms': Math.round(median(editor.map((r) => r.paint))),
    'document editable ms': median(editor.map((r) => r.interactive)),
    'document KiB': Math.round(median(editor.map((r) => r.bytes)) / 1024),
  })
  await browser.close()
  server.stop()
}
console.table(results)
