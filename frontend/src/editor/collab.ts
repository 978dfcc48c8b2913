// One live document: a Y.Doc synced with creo by the official y-websocket provider, with creo's
// two opt-in messages: 100, the count of this connection's updates that are durable ("all
// changes saved"), and 101, document events (workflow, comments, generations) as JSON.
// Until the server has acknowledged them, this person's edits are also kept in localStorage, so
// a closed tab, a dead connection or an ended session loses nothing: the next time they open
// the document the kept state is merged in and sent (a CRDT merge, so nothing is doubled).

import { useEffect, useRef, useState } from 'react'
import { fromBase64, toBase64 } from 'lib0/buffer'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { accessToken, refresh, type Session } from '../api'

export type SaveState = 'connecting' | 'saved' | 'saving' | 'offline' | 'reconnecting' | 'closed'

/**
 * The server closed the connection for good (a code in 4400-4499, which y-websocket does not
 * retry): why, in words a person can act on. Transient closes (4500-4599 and standard codes)
 * are retried by the provider and never get here.
 */
export interface Closed {
  code: number
  /** The access was revoked or the session ended: signing in again may restore it. */
  signInAgain: boolean
  message: string
}

export function closedMessage(code: number, reason: string): Closed {
  const messages: Record<number, string> = {
    4403: 'Your access to this document was removed, or your session ended.',
    4404: 'This document does not exist in this workspace.',
    4413: 'The document has reached its maximum size.',
    4414: 'An edit was too large to send.',
    1002: 'The connection keeps failing with a protocol error. Reload to try again.',
  }
  return {
    code,
    signInAgain: code === 4403,
    message:
      messages[code] ?? `The server closed the connection${reason ? ` (${reason})` : ''}. Reload to continue.`,
  }
}

export interface DocEvent {
  type: 'workflow' | 'comment' | 'generation' | string
  [key: string]: unknown
}

export interface Collab {
  doc: Y.Doc
  provider: WebsocketProvider
  /** Subscribe to the document's events; returns the unsubscribe. */
  onEvent: (listener: (e: DocEvent) => void) => () => void
}

const PALETTE = ['#b42318', '#175cd3', '#067647', '#9e4c00', '#6941c6', '#c11574', '#0e7090', '#4d5761']

/** A colour per user, the same in every browser, dark enough for white text (AA). */
export function colourOf(userId: string): string {
  let h = 0
  for (const c of userId) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return PALETTE[h % PALETTE.length]
}

const MSG_ACK = 100
const MSG_EVENT = 101

/** The signed-in session ended (revoked, or signed out elsewhere) while the document was open. */
export const SESSION_ENDED: Closed = {
  // Noticed by the editor (a refused refresh), not a close code the server sent.
  code: 0,
  signInAgain: true,
  message: 'Your session ended (signed out elsewhere, or revoked).',
}

/** Where this person's unacknowledged edits to one document wait in this browser. */
const unsentKey = (session: Session, docId: string) => `creo.unsent.${session.userId}.${session.accountId}.${docId}`

export function useCollab(
  docId: string,
  session: Session,
  ended = false,
): {
  collab: Collab | null
  save: SaveState
  closed: Closed | null
  /** Counts the times the document has been in sync with the server: panels reload when it moves. */
  connection: number
} {
  const [collab, setCollab] = useState<Collab | null>(null)
  const [save, setSave] = useState<SaveState>('connecting')
  const [closed, setClosed] = useState<Closed | null>(null)
  const stop = useRef<(why: Closed) => void>(() => {})
  const [connection, setConnection] = useState(0)

  useEffect(() => {
    const doc = new Y.Doc()
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
    const provider = new WebsocketProvider(url, docId, doc, {
      // create=0: a mistyped or stale address must never make an empty document.
      params: { token: session.accessToken, ack: '1', events: '1', create: '0' },
      connect: false,
    })
    const listeners = new Set<(e: DocEvent) => void>()

    const key = unsentKey(session, docId)
    const kept = localStorage.getItem(key)
    if (kept) {
      try {
        Y.applyUpdate(doc, fromBase64(kept), 'kept')
      } catch {
        localStorage.removeItem(key)
      }
    }
    let keepTimer: ReturnType<typeof setTimeout> | undefined
    const keep = () => {
      clearTimeout(keepTimer)
      try {
        localStorage.setItem(key, toBase64(Y.encodeStateAsUpdate(doc)))
      } catch {
        // Storage full or refused: the warning before closing the tab still stands.
      }
    }

    // "Saved" is exact: every update this connection sent has been acknowledged as durable.
    // Edits made while disconnected reach the server as one sync message on reconnect.
    let sent = 0
    let acked = 0
    let editedOffline = false
    let everConnected = false
    let gaveUp = false
    let protocolErrors = 0
    // Local edits the server has not acknowledged yet (including ones kept from last time).
    let unsaved = kept !== null
    const recompute = () => {
      if (gaveUp) return
      if (provider.wsconnected && provider.synced && acked >= sent && !editedOffline && unsaved) {
        unsaved = false
        clearTimeout(keepTimer)
        localStorage.removeItem(key)
      }
      if (provider.wsconnected && provider.synced) setSave(acked >= sent ? 'saved' : 'saving')
      else if (!navigator.onLine) setSave('offline')
      else setSave(everConnected ? 'reconnecting' : 'connecting')
    }
    provider.messageHandlers[MSG_ACK] = (_encoder, decoder) => {
      acked = decoding.readVarUint(decoder)
      recompute()
    }
    provider.messageHandlers[MSG_EVENT] = (_encoder, decoder) => {
      const event = JSON.parse(decoding.readVarString(decoder)) as DocEvent
      listeners.forEach((l) => l(event))
    }
    doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin === provider) return
      unsaved = true
      clearTimeout(keepTimer)
      keepTimer = setTimeout(keep, 300)
      if (provider.wsconnected && provider.synced && origin !== 'kept') sent += 1
      else editedOffline = true
      recompute()
    })
    // Closing the tab with edits the server has not confirmed: the browser asks first (they
    // are kept here either way, but the person should know they are not saved yet).
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if (!unsaved) return
      keep()
      e.preventDefault()
    }
    addEventListener('beforeunload', beforeUnload)
    provider.on('status', ({ status }: { status: string }) => {
      if (status === 'connected') {
        everConnected = true
        acked = 0
        sent = editedOffline ? 1 : 0
        editedOffline = false
      }
      recompute()
    })
    provider.on('sync', (synced: boolean) => {
      if (synced) {
        protocolErrors = 0
        setConnection((n) => n + 1)
      }
      recompute()
    })
    // A final close: nothing typed from now on could be saved, so the editor stops taking
    // edits and says why.
    stop.current = (why: Closed) => {
      gaveUp = true
      if (unsaved) keep()
      provider.disconnect()
      setClosed(why)
      setSave('closed')
    }
    provider.on('closed', (event: { code: number; reason: string }) =>
      stop.current(closedMessage(event.code, event.reason)),
    )
    // A reconnect carries a fresh token: access tokens live 15 minutes.
    // A protocol error (1002) is retried like any standard code, but one that repeats on every
    // try will not heal: after three in a row without a sync the editor stops and says so.
    provider.on('connection-close', (event: CloseEvent | null) => {
      protocolErrors = event?.code === 1002 ? protocolErrors + 1 : 0
      if (protocolErrors >= 3) stop.current(closedMessage(1002, event?.reason ?? ''))
      accessToken()
        .then((token) => (provider.params.token = token))
        .catch(() => {})
    })
    // 401 before the upgrade shows up as an error event; refresh so the next try succeeds.
    provider.on('connection-error', () => {
      refresh()
        .then((s) => (provider.params.token = s.accessToken))
        .catch(() => {})
    })
    // The browser knows first when the network goes: stop trying and say so, then sync at once
    // when it is back.
    const online = () => {
      if (navigator.onLine) provider.connect()
      else provider.disconnect()
      recompute()
    }
    addEventListener('online', online)
    addEventListener('offline', online)
    accessToken().then((token) => {
      provider.params.token = token
      if (navigator.onLine) provider.connect()
      recompute()
    })
    setCollab({
      doc,
      provider,
      onEvent: (l) => {
        listeners.add(l)
        return () => listeners.delete(l)
      },
    })
    return () => {
      if (unsaved) keep()
      removeEventListener('beforeunload', beforeUnload)
      removeEventListener('online', online)
      removeEventListener('offline', online)
      provider.destroy()
      doc.destroy()
      setCollab(null)
      setClosed(null)
    }
  }, [docId, session.accountId]) // eslint-disable-line react-hooks/exhaustive-deps

  // The session ended under the open document: stop trying (every try would be refused) and
  // keep what is unsent until the person signs in again.
  useEffect(() => {
    if (ended && collab) stop.current(SESSION_ENDED)
  }, [ended, collab])

  return { collab, save, closed, connection }
}
