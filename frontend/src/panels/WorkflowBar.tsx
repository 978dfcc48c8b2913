import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, post, type Session } from '../api'
import { STATE_LABELS } from '../DocumentsPage'
import type { Collab } from '../editor/collab'
import { useDirectory } from '../directory'
import { Alert } from '../Alert'
import type { TargetDelivery, Transition, WorkflowView } from '../apiTypes'
import { PLATFORM_NAMES, useChannels } from '../ChannelsPanel'

/** Platforms, their formats, and whether every format needs an image or a video. */
const PLATFORMS: [string, string, string[], boolean?][] = [
  ['instagram', 'Instagram', ['feed', 'story', 'reel'], true],
  ['x', 'X', ['feed']],
  ['linkedin', 'LinkedIn', ['feed']],
  ['facebook', 'Facebook', ['feed', 'story']],
  ['tiktok', 'TikTok', ['video'], true],
  ['pinterest', 'Pinterest', ['pin'], true],
  ['youtube', 'YouTube', ['video', 'short'], true],
]

/** Every IANA time zone the browser knows, this browser's own first. */
function timeZones(): string[] {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
  return [own, ...all.filter((z) => z !== own)]
}

/** The document's place in review and publishing, and the moves this person may make from it. */
export function WorkflowBar({
  docId,
  session,
  collab,
  connection,
  canAct = true,
}: {
  docId: string
  session: Session
  collab: Collab
  connection: number
  /** False once the connection is closed for good: the state shows, the moves do not. */
  canAct?: boolean
}) {
  const [view, setView] = useState<WorkflowView | null>(null)
  const [error, setError] = useState('')
  const [scheduling, setScheduling] = useState(false)
  const [flash, setFlash] = useState('')
  const [note, setNote] = useState('')
  const { nameOf } = useDirectory(session.accountId)
  const { channels } = useChannels(session.accountId)
  const [mediaCount, setMediaCount] = useState(0)
  useEffect(() => {
    const media = collab.doc.getArray('media')
    const count = () => setMediaCount(media.length)
    media.observe(count)
    count()
    return () => media.unobserve(count)
  }, [collab])
  const manager = canAct && (session.role === 'owner' || session.role === 'admin')
  const writer = canAct && (manager || session.role === 'editor')

  const load = useCallback(() => {
    api<WorkflowView>(`/documents/${docId}/workflow`)
      .then((v) => {
        setView(v)
        setError('')
      })
      .catch((e: ApiError) => setError(e.message))
  }, [docId, connection])
  useEffect(() => {
    load()
    return collab.onEvent((e) => {
      if (e.type === 'publish_target') return load()
      if (e.type !== 'workflow') return
      const t = e.transition as Transition | undefined
      if (t) setFlash(`${nameOf(t.actor)}: ${STATE_LABELS[t.from]} → ${STATE_LABELS[t.to]}${t.note ? ` (${t.note})` : ''}`)
      load()
    })
  }, [collab, load, nameOf])

  async function move(action: string, extra: Record<string, unknown> = {}) {
    try {
      await post(`/documents/${docId}/workflow`, { action, note, ...extra })
      setError('')
      setNote('')
      setScheduling(false)
      load()
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  // With channels, a post goes to the ones ticked; without, to the server's destination,
  // checked against the platforms ticked.
  const onChannels = !!channels?.length
  const targetsOf = (form: FormData) =>
    onChannels
      ? channels!.filter((c) => form.get(`channel-${c.channel_id}`)).map((c) => ({ channel_id: c.channel_id }))
      : PLATFORMS.filter(([p]) => form.get(`on-${p}`)).map(([p]) => ({
          platform: p,
          format: String(form.get(`format-${p}`)),
        }))
  // A removed channel still has its line, named by the platform it went to.
  const channelOf = (d: TargetDelivery) => channels?.find((c) => c.channel_id === d.channel_id)
  const channelName = (d: TargetDelivery) => channelOf(d)?.name ?? d.platform
  const channelPlatform = (d: TargetDelivery) => {
    const platform = channelOf(d)?.platform ?? d.platform
    return PLATFORM_NAMES[platform] ?? platform
  }

  function schedule(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    move('schedule', { at: `${form.get('at')}:00`, timezone: form.get('timezone'), targets: targetsOf(form) })
  }

  if (!view) return <div className="workflow">{error || 'Loading workflow…'}</div>
  const state = view.workflow.state
  const actions: [string, string, boolean][] = [
    ['submit', 'Submit for review', writer && (state === 'draft' || state === 'changes_requested')],
    ['approve', 'Approve', manager && state === 'in_review'],
    ['request_changes', 'Request changes', manager && state === 'in_review'],
    ['schedule', 'Schedule…', writer && state === 'approved'],
    ['unschedule', 'Unschedule', writer && state === 'scheduled'],
    ['reopen', 'Reopen as draft', manager && state !== 'draft'],
  ]
  const last = view.transitions[view.transitions.length - 1]
  return (
    <section className="workflow" aria-label="Workflow">
      <span className={`badge state-${state}`} data-testid="workflow-state">
        {STATE_LABELS[state]}
      </span>
      {state === 'in_review' && (
        <span className="hint">
          {view.workflow.approvals.length} of {view.required_approvals} approvals
        </span>
      )}
      {state === 'scheduled' && view.workflow.scheduled_at && (
        <span className="hint">
          goes out {new Date(view.workflow.scheduled_at).toLocaleString()} ({view.workflow.timezone})
        </span>
      )}
      {last?.note && state !== 'scheduled' && view.deliveries.length === 0 && <span className="hint">“{last.note}”</span>}
      {view.deliveries.length > 0 && (
        <ul className="deliveries" aria-label="Where it goes">
          {view.deliveries.map((d) => (
            <li key={d.channel_id} data-testid="delivery">
              <strong>{channelName(d)}</strong> <span className="hint">{channelPlatform(d)}</span>{' '}
              <span className={`badge delivery-${d.state}`}>{d.state}</span>
              {d.state === 'published' && d.permalink && (
                <>
                  {' '}
                  <a href={d.permalink} target="_blank" rel="noreferrer">
                    view post
                  </a>
                </>
              )}
              {(d.state === 'failed' || d.state === 'retrying') && <span className="hint"> {d.reason}</span>}
            </li>
          ))}
        </ul>
      )}
      <div className="row wrap">
        {actions.some(([, , allowed]) => allowed) && (
          <label className="inline">
            <span className="visually-hidden">Note for the next step</span>
            <input value={note} onChange={(e) => setNote(e.target.value)} placeholder="Note (optional)" />
          </label>
        )}
        {actions
          .filter(([, , allowed]) => allowed)
          .map(([action, label]) => (
            <button
              key={action}
              type="button"
              className={action === 'approve' || action === 'submit' ? 'primary' : ''}
              onClick={() => (action === 'schedule' ? setScheduling(!scheduling) : move(action))}
            >
              {label}
            </button>
          ))}
      </div>
      <p className="flash" role="status" aria-live="polite">
        {flash}
      </p>
      <Alert text={error} />
      {scheduling && (
        <form onSubmit={schedule} className="card-inset stack schedule">
          <label>
            When
            <input name="at" type="datetime-local" required />
          </label>
          <label>
            Time zone
            <select name="timezone" required>
              {timeZones().map((z) => (
                <option key={z}>{z}</option>
              ))}
            </select>
          </label>
          {onChannels ? (
            <fieldset>
              <legend>Channels</legend>
              {channels!.map((c) => (
                <label key={c.channel_id} className="inline">
                  <input
                    type="checkbox"
                    name={`channel-${c.channel_id}`}
                    disabled={c.status === 'needs_reconnect'}
                  />{' '}
                  {c.name} ({PLATFORM_NAMES[c.platform] ?? c.platform}){c.status === 'needs_reconnect' && ' — needs reconnecting'}
                </label>
              ))}
            </fieldset>
          ) : (
          <fieldset>
            <legend>Where</legend>
            {PLATFORMS.map(([p, label, formats, needsMedia]) => {
              const unavailable = needsMedia && mediaCount === 0 ? 'needs an image or video: add one from the Media tab' : ''
              return (
                <div key={p} className="row wrap">
                  <label className="inline">
                    <input type="checkbox" name={`on-${p}`} disabled={!!unavailable} aria-describedby={unavailable && `why-${p}`} />{' '}
                    {label}
                  </label>
                  {unavailable ? (
                    <span className="hint" id={`why-${p}`}>
                      {unavailable}
                    </span>
                  ) : (
                    <label className="inline">
                      <span className="visually-hidden">{label} format</span>
                      <select name={`format-${p}`}>
                        {formats.map((f) => (
                          <option key={f}>{f}</option>
                        ))}
                      </select>
                    </label>
                  )}
                </div>
              )
            })}
          </fieldset>
          )}
          <div className="row wrap">
            <button type="submit" className="primary">
              Schedule
            </button>
            {/* The same places, skipping the wait: no time needed. */}
            <button
              type="button"
              onClick={(e) => e.currentTarget.form && move('publish_now', { targets: targetsOf(new FormData(e.currentTarget.form)) })}
            >
              Publish now
            </button>
          </div>
        </form>
      )}
    </section>
  )
}
