// Drives a running creo with the official yjs + y-websocket client packages, the way a browser
// editor does. Run by tests/integration/interop.rs, which starts the server and mints tokens.
//
//   CREO_WS=ws://127.0.0.1:PORT/ws DOC=id TOKEN_A=.. TOKEN_B=.. TOKEN_VIEWER=.. USER_A=.. USER_B=..
//     node interop.mjs
//
// Exits 0 when every check holds, 1 otherwise, printing what failed.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { env, sleep, waitFor } from './harness.mjs'

const url = env('CREO_WS')
const docId = env('DOC')

function connect (token, name) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, docId, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket,
    disableBc: true
  })
  provider.awareness.setLocalStateField('user', { name })
  return { doc, provider, text: doc.getText('post') }
}

const failures = []
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`)
  if (!ok) failures.push(name)
}

const a = connect(env('TOKEN_A'), 'Alice')
const b = connect(env('TOKEN_B'), 'Bob')
try {
  await waitFor('both synced', () => a.provider.synced && b.provider.synced)

  // Concurrent edits from both official clients.
  for (let i = 0; i < 50; i++) {
    a.text.insert(0, `a${i};`)
    b.text.insert(b.text.length, `b${i};`)
    if (i % 10 === 0) await sleep(5)
  }
  await waitFor('convergence', () =>
    a.text.toString() === b.text.toString() && a.text.length === 2 * 50 * 3 + 2 * 40 * 1)
  check('official clients converge', a.text.toString() === b.text.toString(), `${a.text.length} chars`)
  for (let i = 0; i < 50; i++) {
    if (!a.text.toString().includes(`a${i};`) || !a.text.toString().includes(`b${i};`)) {
      check(`edit ${i} present on both`, false)
      break
    }
  }

  // Presence: each sees the other, with the server-attached identity.
  const peerState = (self, other) => self.provider.awareness.getStates().get(other.doc.clientID)
  await waitFor('awareness both ways', () => peerState(a, b) && peerState(b, a))
  check('awareness relayed with user names', peerState(a, b).user.name === 'Bob' && peerState(b, a).user.name === 'Alice')
  check('server attaches the authenticated user id',
    peerState(a, b).creo?.userId === env('USER_B') && peerState(b, a).creo?.userId === env('USER_A'),
    JSON.stringify(peerState(a, b).creo))

  // A viewer syncs and reads, but its edit is refused and reaches nobody.
  const v = connect(env('TOKEN_VIEWER'), 'Vera')
  let denied = null
  v.provider.on('status', () => {})
  const origDenied = v.provider.messageHandlers[2]
  v.provider.messageHandlers[2] = (...args) => { denied = true; return origDenied(...args) }
  await waitFor('viewer synced', () => v.provider.synced)
  check('viewer receives the document', v.text.toString() === a.text.toString())
  v.text.insert(0, 'VIEWER-EDIT')
  await waitFor('permission denied to viewer', () => denied === true, 5000).catch(() => {})
  check('viewer told permission denied', denied === true)
  await sleep(300)
  check('viewer edit not applied for others', !a.text.toString().includes('VIEWER-EDIT'))
  v.provider.destroy()

  // Disconnect removes presence for the others (no ghost cursor).
  const bClient = b.doc.clientID
  b.provider.destroy()
  await waitFor('B removed from A awareness', () => !a.provider.awareness.getStates().has(bClient), 5000).catch(() => {})
  check('awareness removed on disconnect', !a.provider.awareness.getStates().has(bClient))
} catch (e) {
  check('scenario completed', false, e.message)
} finally {
  a.provider.destroy()
  b.provider.destroy()
}
console.log(`${failures.length === 0 ? 'interop: all checks passed' : `interop: ${failures.length} failed: ${failures.join(', ')}`}`)
process.exit(failures.length === 0 ? 0 : 1)
