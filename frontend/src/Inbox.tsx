// The bell in the top bar: the unread count, kept live by the person's inbox stream (Server-Sent
// Events read with fetch, so the access token goes in a header, not the URL), and the inbox
// panel it opens: notifications grouped per document, read / unread / delete, all read, more,
// and the notification settings.

import { useCallback, useEffect, useRef, useState } from 'react'
import { accessToken, api, ApiError } from './api'
import type { Notification, NotificationSettings, InboxPage } from './apiTypes'
import { when } from './format'
import { Alert } from './Alert'

type Kind = Notification['kind']

const KIND_LABELS: Record<Kind, string> = {
  mention: 'Mentions of you',
  reply: 'Replies in your threads',
  review_requested: 'Review requests',
  approved: 'Your posts approved',
  changes_requested: 'Changes requested on your posts',
  published: 'Your posts published',
  publish_failed: 'Your posts failing to publish',
  generation_finished: 'Your generations ready',
  generation_failed: 'Your generations failing',
  invited: 'Invitations',
  role_changed: 'Your role changing',
  low_credits: 'Credits running low',
  channel_needs_reconnect: 'Publishing channels needing reconnection',
}

/** What happened, in one line: "Olga mentioned you in “Launch”". */
export function headline(n: Notification): string {
  const who = n.actor_name
  const doc = n.doc_title ? `“${n.doc_title}”` : 'a document'
  switch (n.kind) {
    case 'mention':
      return `${who} mentioned you in ${doc}`
    case 'reply':
      return `${who} replied in a thread on ${doc}`
    case 'review_requested':
      return `${who} asks you to review ${doc}`
    case 'approved':
      return `${who} approved ${doc}`
    case 'changes_requested':
      return `${who} requested changes to ${doc}`
    case 'published':
      return `${doc} was published`
    case 'publish_failed':
      return `${doc} failed to publish`
    case 'generation_finished':
      return `Your generation for ${doc} is ready`
    case 'generation_failed':
      return `Your generation for ${doc} failed`
    case 'invited':
      return `${who} invited you to a workspace`
    case 'role_changed':
      return 'Your role in a workspace changed'
    case 'low_credits':
      return 'Your workspace is running low on credits'
    case 'channel_needs_reconnect':
      return 'A publishing channel needs reconnecting'
  }
}

type Live = { type: 'notification'; notification: Notification } | { type: 'changed' }

/**
 * Follows the person's inbox stream while mounted: `onEvent` for each event, `onOpen` each time
 * it (re)connects. A stream that ends (token lifetime, a node stopping, a dropped connection)
 * is opened again after a pause that grows to 30 s.
 */
function useInboxStream(onEvent: (e: Live) => void, onOpen: () => void) {
  const handlers = useRef({ onEvent, onOpen })
  handlers.current = { onEvent, onOpen }
  useEffect(() => {
    const stop = new AbortController()
    let pause = 1000
    async function follow() {
      while (!stop.signal.aborted) {
        try {
          const response = await fetch('/api/v1/users/me/notifications/stream', {
            headers: { authorization: `Bearer ${await accessToken()}` },
            signal: stop.signal,
          })
          if (!response.ok || !response.body) throw new Error(`stream: ${response.status}`)
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
          let buffer = ''
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            buffer += value
            let end
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              if (event.startsWith('event: ready')) {
                pause = 1000
                handlers.current.onOpen()
                continue
              }
              const data = event.split('\n').find((l) => l.startsWith('data: '))
              if (data) handlers.current.onEvent(JSON.parse(data.slice(6)) as Live)
            }
          }
        } catch {
          if (stop.signal.aborted) return
        }
        await new Promise((ok) => setTimeout(ok, pause))
        pause = Math.min(pause * 2, 30_000)
      }
    }
    follow()
    return () => stop.abort()
  }, [])
}

export function Bell() {
  const [unread, setUnread] = useState<number | null>(null)
  const [open, setOpen] = useState(false)
  const [fresh, setFresh] = useState<Notification[]>([])
  const recount = useCallback(() => {
    api<{ unread: number }>('/users/me/notifications/unread-count')
      .then((r) => setUnread(r.unread))
      .catch(() => {})
  }, [])
  useInboxStream(
    (e) => {
      if (e.type === 'notification') {
        setUnread((n) => (n ?? 0) + 1)
        setFresh((list) => [e.notification, ...list])
      } else recount()
    },
    recount,
  )
  // No count on mount: the stream's `ready` event asks for it, so a page costs one request (the
  // account's per-second request budget is shared with the editor's own calls).
  const label = unread ? `Notifications, ${unread} unread` : 'Notifications'
  return (
    <div className="bell-wrap">
      <button
        type="button"
        className="ghost bell"
        aria-label={label}
        aria-expanded={open}
        title={label}
        onClick={() => setOpen(!open)}
      >
        <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        {!!unread && (
          <span className="badge" data-testid="unread-count">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <InboxPanel
          fresh={fresh}
          onCount={setUnread}
          onClose={() => {
            setOpen(false)
            setFresh([])
          }}
        />
      )}
    </div>
  )
}

/** Consecutive notifications about one document, shown under one heading. */
function groups(items: Notification[]): Notification[][] {
  const out: Notification[][] = []
  for (const n of items) {
    const last = out[out.length - 1]
    if (last && n.doc_id && last[0].doc_id === n.doc_id) last.push(n)
    else out.push([n])
  }
  return out
}

function InboxPanel({
  fresh,
  onCount,
  onClose,
}: {
  fresh: Notification[]
  onCount: (n: number) => void
  onClose: () => void
}) {
  const [items, setItems] = useState<Notification[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [unreadOnly, setUnreadOnly] = useState(false)
  const [settings, setSettings] = useState(false)
  const [error, setError] = useState('')

  const load = useCallback(
    (after?: string) => {
      const query = new URLSearchParams({ limit: '20' })
      if (unreadOnly) query.set('unread', 'true')
      if (after) query.set('cursor', after)
      api<InboxPage>(`/users/me/notifications?${query}`)
        .then((page) => {
          setItems((before) => (after ? [...(before ?? []), ...page.items] : page.items))
          setCursor(page.next_cursor ?? null)
          onCount(page.unread)
        })
        .catch((e: ApiError) => setError(e.message))
    },
    [unreadOnly, onCount],
  )
  useEffect(() => load(), [load])
  // Notifications that arrive while the panel is open join the top of the list.
  useEffect(() => {
    if (fresh.length) setItems((list) => [...fresh.filter((f) => !list?.some((n) => n.notification_id === f.notification_id)), ...(list ?? [])])
  }, [fresh])
  useEffect(() => {
    const close = (e: KeyboardEvent) => e.key === 'Escape' && onClose()
    addEventListener('keydown', close)
    return () => removeEventListener('keydown', close)
  }, [onClose])

  async function act(n: Notification, what: 'read' | 'unread' | 'delete') {
    try {
      const path = `/users/me/notifications/${encodeURIComponent(n.notification_id)}`
      const r = await api<{ unread: number }>(what === 'delete' ? path : `${path}/${what}`, {
        method: what === 'delete' ? 'DELETE' : 'POST',
        body: what === 'delete' ? undefined : '{}',
      })
      onCount(r.unread)
      setItems((list) =>
        what === 'delete'
          ? (list ?? []).filter((x) => x.notification_id !== n.notification_id)
          : (list ?? []).map((x) =>
              x.notification_id === n.notification_id ? { ...x, read_at: what === 'read' ? Date.now() : null } : x,
            ),
      )
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'The server could not be reached')
    }
  }

  async function allRead() {
    try {
      const r = await api<{ unread: number }>('/users/me/notifications/read-all', { method: 'POST', body: '{}' })
      onCount(r.unread)
      setItems((list) => (list ?? []).map((x) => ({ ...x, read_at: x.read_at ?? Date.now() })))
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'The server could not be reached')
    }
  }

  function open(n: Notification) {
    if (!n.read_at) act(n, 'read')
    // Links are `/#/…`: the editor's own addresses.
    location.hash = n.link.slice(n.link.indexOf('#') + 1)
    onClose()
  }

  if (settings) return <SettingsPanel onBack={() => setSettings(false)} />
  return (
    <section className="inbox card" role="dialog" aria-label="Notifications">
      <header className="inbox-head">
        <h2>Notifications</h2>
        <label className="inline">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
        </label>
        <button type="button" className="link" onClick={allRead}>
          Mark all read
        </button>
        <button type="button" className="link" onClick={() => setSettings(true)}>
          Settings
        </button>
      </header>
      <Alert text={error} />
      {items === null ? (
        <p className="hint">Loading…</p>
      ) : items.length === 0 ? (
        <p className="hint">Nothing new. Mentions, review requests and results show up here.</p>
      ) : (
        <ul className="inbox-groups">
          {groups(items).map((group) => (
            <li key={group[0].notification_id}>
              {group.length > 1 && <h3 className="inbox-doc">{group[0].doc_title || 'Untitled document'}</h3>}
              <ul className="inbox-items">
                {group.map((n) => (
                  <li key={n.notification_id} className={n.read_at ? 'read' : 'unread'} data-kind={n.kind}>
                    <button type="button" className="inbox-open" onClick={() => open(n)}>
                      <strong>{headline(n)}</strong>
                      {n.text && <span className="inbox-text">{n.text}</span>}
                      <time dateTime={new Date(n.created_at).toISOString()}>{when(n.created_at)}</time>
                    </button>
                    <span className="inbox-actions">
                      <button type="button" className="link" onClick={() => act(n, n.read_at ? 'unread' : 'read')}>
                        {n.read_at ? 'Mark unread' : 'Mark read'}
                      </button>
                      <button type="button" className="link" aria-label={`Delete: ${headline(n)}`} onClick={() => act(n, 'delete')}>
                        Delete
                      </button>
                    </span>
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" className="ghost" onClick={() => load(cursor)}>
          Show older
        </button>
      )}
    </section>
  )
}

function SettingsPanel({ onBack }: { onBack: () => void }) {
  const [settings, setSettings] = useState<NotificationSettings | null>(null)
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')
  useEffect(() => {
    api<NotificationSettings>('/users/me/notification-settings')
      .then(setSettings)
      .catch((e: ApiError) => setError(e.message))
  }, [])

  async function save(next: NotificationSettings) {
    setSettings(next)
    setStatus('Saving…')
    try {
      setSettings(
        await api<NotificationSettings>('/users/me/notification-settings', {
          method: 'PUT',
          body: JSON.stringify(next),
        }),
      )
      setStatus('Saved')
    } catch (e) {
      setStatus('')
      setError(e instanceof ApiError ? e.message : 'The server could not be reached')
    }
  }

  const kinds = Object.keys(KIND_LABELS) as Kind[]
  return (
    <section className="inbox card" role="dialog" aria-label="Notification settings">
      <header className="inbox-head">
        <button type="button" className="link" onClick={onBack}>
          ← Notifications
        </button>
        <h2>Notification settings</h2>
        <span className="hint" role="status">
          {status}
        </span>
      </header>
      <Alert text={error} />
      {settings && (
        <>
          <label>
            Email me
            <select
              value={settings.digest}
              onChange={(e) => save({ ...settings, digest: e.target.value as NotificationSettings['digest'] })}
            >
              <option value="immediately">at once, one email each</option>
              <option value="hourly">an hourly digest</option>
              <option value="daily">a daily digest</option>
              <option value="never">never</option>
            </select>
          </label>
          <table className="settings-table">
            <thead>
              <tr>
                <th scope="col">Tell me about</th>
                <th scope="col">In the app</th>
                <th scope="col">By email</th>
              </tr>
            </thead>
            <tbody>
              {kinds.map((kind) => {
                const channels = settings.kinds?.[kind] ?? { in_app: true, email: true }
                const set = (change: Partial<typeof channels>) =>
                  save({ ...settings, kinds: { ...settings.kinds, [kind]: { ...channels, ...change } } })
                return (
                  <tr key={kind}>
                    <th scope="row">{KIND_LABELS[kind]}</th>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`${KIND_LABELS[kind]} in the app`}
                        checked={channels.in_app}
                        onChange={(e) => set({ in_app: e.target.checked })}
                      />
                    </td>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`${KIND_LABELS[kind]} by email`}
                        checked={channels.email}
                        disabled={settings.digest === 'never'}
                        onChange={(e) => set({ email: e.target.checked })}
                      />
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
