// The official y-websocket client (3.x) against creo's limits: it gives up for good on close
// codes 4400-4499 and reconnects on any other, so every limit a client can recover from must
// slow it down or close with a code it retries. Run by tests/integration/interop.rs, which
// starts a server configured for each scenario.
//
//   CREO_WS=ws://127.0.0.1:PORT/ws DOC=id TOKEN=.. SCENARIO=burst|fell-behind|heartbeat [COUNT=n]
//     node limits.mjs
//
// Exits 0 when every check holds, 1 otherwise, printing what failed.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { env, sleep, waitFor as waitUpTo } from './harness.mjs'

const url = env('CREO_WS')
const docId = env('DOC')
const token = env('TOKEN')
const scenario = env('SCENARIO')
// The limits' scenarios reconnect and resync, so they wait longer than the harness's default.
const waitFor = (what, cond, ms = 30000) => waitUpTo(what, cond, ms)

/** An official client as an integration uses it: no BroadcastChannel shortcut. */
function connect (name) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, docId, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket,
    disableBc: true
  })
  provider.awareness.setLocalStateField('user', { name })
  const closes = []
  provider.on('connection-close', (event) => { if (event) closes.push(event.code) })
  let gaveUp = null
  provider.on('closed', (event) => { gaveUp = event.code })
  return { doc, provider, text: doc.getText('post'), closes, gaveUp: () => gaveUp }
}

const failures = []
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`)
  if (!ok) failures.push(name)
}

/** The client's socket stops reading (as a stalled tab would), then reads again. */
const pauseReading = (client) => client.provider.ws._socket.pause()
const resumeReading = (client) => client.provider.ws._socket.resume()

const clients = []
try {
  if (scenario === 'burst') {
    // One writer sends COUNT small updates as fast as it can: an import script, an AI agent, a
    // long offline queue flushed at once.
    const count = Number(env('COUNT', '20000'))
    const writer = connect('writer'); clients.push(writer)
    await waitFor('writer synced', () => writer.provider.synced)
    const started = Date.now()
    for (let i = 0; i < count; i++) writer.text.insert(writer.text.length, 'x')
    const reader = connect('reader'); clients.push(reader)
    await waitFor(`all ${count} updates on the server`, () => reader.provider.synced && reader.text.length === count, 120000)
    console.log(`burst: ${count} updates taken in ${Date.now() - started} ms`)
    check('every update reached the server', reader.text.length === count, `${reader.text.length} of ${count}`)
    check('the writer stayed connected and synced', writer.provider.wsconnected && writer.provider.synced,
      `closes: ${writer.closes.join(',') || 'none'}`)
    check('the writer was never given up on', writer.gaveUp() === null, `closed with ${writer.gaveUp()}`)
  } else if (scenario === 'fell-behind') {
    // A reader stops reading while a writer floods the document: its queue fills, the server
    // closes it with a transient code; once it reads again it reconnects by itself, resyncs,
    // and has everything.
    const reader = connect('reader'); clients.push(reader)
    const writer = connect('writer'); clients.push(writer)
    await waitFor('both synced', () => reader.provider.synced && writer.provider.synced)
    pauseReading(reader)
    const chunk = 'y'.repeat(16 * 1024)
    for (let i = 0; i < 800; i++) {
      writer.text.insert(writer.text.length, chunk)
      if (i % 50 === 0) await sleep(10)
    }
    await sleep(1500)
    resumeReading(reader)
    await waitFor('the reader was closed', () => reader.closes.length > 0)
    check('closed with a code the client retries', reader.closes.every((c) => c < 4400 || c >= 4500),
      `codes ${reader.closes.join(',')}`)
    await waitFor('the reader reconnected and converged', () =>
      reader.provider.synced && reader.text.length === writer.text.length, 60000)
    check('the reader converged', reader.text.toString() === writer.text.toString(),
      `${reader.text.length} of ${writer.text.length}`)
    check('the reader was never given up on', reader.gaveUp() === null, `closed with ${reader.gaveUp()}`)
  } else if (scenario === 'heartbeat') {
    // A client that goes silent (its socket stalls, so it answers no ping) is timed out; it
    // reconnects by itself and what it typed meanwhile reaches the others.
    const quiet = connect('quiet'); clients.push(quiet)
    const other = connect('other'); clients.push(other)
    await waitFor('both synced', () => quiet.provider.synced && other.provider.synced)
    pauseReading(quiet)
    quiet.text.insert(0, 'typed while stalled;')
    await sleep(1500)
    resumeReading(quiet)
    await waitFor('timed out', () => quiet.closes.length > 0)
    check('closed with a code the client retries', quiet.closes.every((c) => c < 4400 || c >= 4500),
      `codes ${quiet.closes.join(',')}`)
    await waitFor('reconnected, and its edit reached the other client', () =>
      quiet.provider.synced && other.text.toString().includes('typed while stalled;'))
    check('the edit reached the other client', other.text.toString() === quiet.text.toString())
    check('the client was never given up on', quiet.gaveUp() === null, `closed with ${quiet.gaveUp()}`)
  } else {
    throw new Error(`unknown scenario ${scenario}`)
  }
} catch (e) {
  check(`scenario ${scenario} completed`, false, e.message)
} finally {
  for (const c of clients) c.provider.destroy()
}
console.log(`${failures.length === 0 ? `limits ${scenario}: all checks passed` : `limits ${scenario}: ${failures.length} failed: ${failures.join(', ')}`}`)
process.exit(failures.length === 0 ? 0 : 1)
