import { useCallback, useEffect, useState, type DragEvent } from 'react'
import { api, ApiError, post, type Session } from './api'
import { documentLink } from './App'
import { Header, STATE_LABELS } from './DocumentsPage'
import { useChannels } from './ChannelsPanel'
import { Alert } from './Alert'
import { useTitle } from './title'
import type { BestTimes, CalendarEntry, Listed } from './apiTypes'

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
/** Where a post dropped from "Ready to schedule" goes out, on the day it was dropped on. */
const DEFAULT_TIME = '09:00'

/** Local midnight of `d`'s day. */
const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate())
/** The Monday of `d`'s week. */
const mondayOf = (d: Date) => {
  const day = startOfDay(d)
  return new Date(day.getFullYear(), day.getMonth(), day.getDate() - ((day.getDay() + 6) % 7))
}
const addDays = (d: Date, n: number) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n)
const sameDay = (a: Date, b: Date) => startOfDay(a).getTime() === startOfDay(b).getTime()
const pad = (n: number) => String(n).padStart(2, '0')
/** `d` as the workflow's local date: `2026-12-01`. */
const localDate = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
const localTime = (ms: number) => {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}
const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone

/** What a drag carries: a scheduled post to move (with its time of day), or an approved one to schedule. */
type Dragged = { docId: string; title: string; time?: string }

/**
 * The workspace's posts by day, a month or a week at a time. Writers drag a scheduled post to
 * another day (it keeps its time of day) or an approved one from "Ready to schedule" onto a day
 * (09:00, to every active channel); each day also has a date field for doing the same without
 * a mouse. The server decides as for any move: roles, the approval rule, times in the future.
 */
export function CalendarPage({ session }: { session: Session }) {
  useTitle('Calendar')
  const [mode, setMode] = useState<'month' | 'week'>('month')
  const [anchor, setAnchor] = useState(() => startOfDay(new Date()))
  const [entries, setEntries] = useState<CalendarEntry[] | null>(null)
  const [ready, setReady] = useState<Listed[]>([])
  const [error, setError] = useState('')
  const [flash, setFlash] = useState('')
  const { channels } = useChannels(session.accountId)
  const [best, setBest] = useState<BestTimes | null>(null)
  useEffect(() => {
    api<BestTimes>(`/accounts/${session.accountId}/best-times?timezone=${encodeURIComponent(zone())}`)
      .then(setBest)
      .catch(() => setBest(null))
  }, [session.accountId])
  const writer = ['owner', 'admin', 'editor'].includes(session.role)

  const first =
    mode === 'month' ? mondayOf(new Date(anchor.getFullYear(), anchor.getMonth(), 1)) : mondayOf(anchor)
  const days = Array.from({ length: mode === 'month' ? 42 : 7 }, (_, i) => addDays(first, i))
  const end = addDays(first, days.length)

  const load = useCallback(() => {
    const window = `from=${encodeURIComponent(first.toISOString())}&to=${encodeURIComponent(end.toISOString())}`
    // Both answers are shown together: a post just scheduled must not sit on its day and in
    // "Ready to schedule" at once while the slower of the two requests is still out.
    Promise.all([
      api<{ entries: CalendarEntry[] }>(`/accounts/${session.accountId}/calendar?${window}`),
      api<{ documents: Listed[] }>('/documents'),
    ])
      .then(([c, r]) => {
        setEntries(c.entries)
        setReady(r.documents.filter((d) => d.workflow_state === 'approved'))
      })
      .catch((e: ApiError) => setError(e.message))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session.accountId, first.getTime(), end.getTime()])
  useEffect(load, [load])

  async function place(what: Dragged, day: Date) {
    const at = `${localDate(day)}T${what.time ?? DEFAULT_TIME}:00`
    const body = what.time
      ? { action: 'reschedule', at, timezone: zone() }
      : {
          action: 'schedule',
          at,
          timezone: zone(),
          targets: (channels ?? []).filter((c) => c.status === 'active').map((c) => ({ channel_id: c.channel_id })),
        }
    try {
      await post(`/documents/${encodeURIComponent(what.docId)}/workflow`, body)
      setError('')
      setFlash(`“${what.title}” ${what.time ? 'moved' : 'scheduled'} to ${day.toLocaleDateString()} ${what.time ?? DEFAULT_TIME}`)
      load()
    } catch (e) {
      setError(`“${what.title}”: ${(e as ApiError).message}`)
    }
  }

  const dragStart = (what: Dragged) => (e: DragEvent) => {
    e.dataTransfer.setData('application/x-creo-post', JSON.stringify(what))
    e.dataTransfer.effectAllowed = 'move'
  }
  const drop = (day: Date) => (e: DragEvent) => {
    e.preventDefault()
    const raw = e.dataTransfer.getData('application/x-creo-post')
    if (raw) place(JSON.parse(raw) as Dragged, day)
  }
  const step = (n: number) =>
    setAnchor(mode === 'month' ? new Date(anchor.getFullYear(), anchor.getMonth() + n, 1) : addDays(anchor, 7 * n))
  const heading =
    mode === 'month'
      ? anchor.toLocaleDateString(undefined, { month: 'long', year: 'numeric' })
      : `Week of ${first.toLocaleDateString()}`

  return (
    <>
      <Header session={session} />
      <main className="calendar-page">
        <section aria-labelledby="calendar-title" className="card stack">
          <div className="row wrap calendar-bar">
            <h1 id="calendar-title">{heading}</h1>
            <button type="button" onClick={() => step(-1)}>
              Previous
            </button>
            <button type="button" onClick={() => setAnchor(startOfDay(new Date()))}>
              Today
            </button>
            <button type="button" onClick={() => step(1)}>
              Next
            </button>
            <div role="group" aria-label="View" className="row">
              {(['month', 'week'] as const).map((m) => (
                <button key={m} type="button" aria-pressed={mode === m} onClick={() => setMode(m)}>
                  {m === 'month' ? 'Month' : 'Week'}
                </button>
              ))}
            </div>
          </div>
          <p className="flash" role="status" aria-live="polite">
            {flash}
          </p>
          <Alert text={error} />
          <div className={`calendar-grid ${mode}`} role="grid" aria-labelledby="calendar-title">
            {WEEKDAYS.map((d) => (
              <div key={d} role="columnheader" className="weekday">
                {d}
              </div>
            ))}
            {days.map((day) => {
              const todays = (entries ?? []).filter((e) => sameDay(new Date(e.scheduled_at), day))
              return (
                <div
                  key={day.getTime()}
                  role="gridcell"
                  aria-label={day.toDateString()}
                  data-date={localDate(day)}
                  className={`day${day.getMonth() !== anchor.getMonth() && mode === 'month' ? ' other-month' : ''}${sameDay(day, new Date()) ? ' today' : ''}`}
                  onDragOver={writer ? (e) => e.preventDefault() : undefined}
                  onDrop={writer ? drop(day) : undefined}
                >
                  <span className="day-number">{day.getDate()}</span>
                  {todays.map((e) => {
                    const movable = writer && e.state === 'scheduled'
                    const what = { docId: e.doc_id, title: e.title || e.doc_id, time: localTime(e.scheduled_at) }
                    return (
                      <a
                        key={e.doc_id}
                        href={documentLink(session.accountId, e.doc_id)}
                        className={`entry state-${e.state}`}
                        draggable={movable}
                        onDragStart={movable ? dragStart(what) : undefined}
                        data-testid="calendar-entry"
                        title={`${STATE_LABELS[e.state]} ${new Date(e.scheduled_at).toLocaleString()}`}
                      >
                        <time>{localTime(e.scheduled_at)}</time> {e.title || e.doc_id}
                        <span className="visually-hidden">, {STATE_LABELS[e.state]}</span>
                      </a>
                    )
                  })}
                </div>
              )
            })}
          </div>
        </section>
        <aside aria-labelledby="ready-title" className="card stack">
          <h2 id="ready-title">Ready to schedule</h2>
          {ready.length === 0 ? (
            <p className="hint">Approved posts without a time show here.</p>
          ) : (
            <ul className="ready-list">
              {ready.map((d) => {
                const what = { docId: d.doc_id, title: d.title || d.doc_id }
                return (
                  <li key={d.doc_id} draggable={writer} onDragStart={writer ? dragStart(what) : undefined} data-testid="ready-post">
                    <a href={documentLink(session.accountId, d.doc_id)}>{what.title}</a>
                    {writer && (
                      <label className="inline">
                        <span className="visually-hidden">Schedule {what.title} on</span>
                        <input
                          type="date"
                          onChange={(e) => e.target.value && place(what, new Date(`${e.target.value}T00:00`))}
                        />
                      </label>
                    )}
                  </li>
                )
              })}
            </ul>
          )}
          {writer && <p className="hint">Drag a post onto a day. Scheduled posts move the same way and keep their time.</p>}
          <h2 id="best-title">Best times to post</h2>
          {!best || best.times.length === 0 ? (
            <p className="hint">
              Not enough history yet{best ? ` (${best.based_on_posts} posts with impressions)` : ''}: each time needs at least
              three posts that did better than usual.
            </p>
          ) : (
            <ul className="best-times" aria-labelledby="best-title" data-testid="best-times">
              {best.times.map((t) => (
                <li key={`${t.day}-${t.hour}`}>
                  <strong>
                    {t.day[0].toUpperCase() + t.day.slice(1)} {String(t.hour).padStart(2, '0')}:00
                  </strong>{' '}
                  {(t.engagement_rate * 100).toFixed(1)}% engagement, {t.lift.toFixed(1)}× usual{' '}
                  <span className="hint">
                    ({t.posts} posts, {t.confidence} confidence)
                  </span>
                </li>
              ))}
            </ul>
          )}
        </aside>
      </main>
    </>
  )
}
