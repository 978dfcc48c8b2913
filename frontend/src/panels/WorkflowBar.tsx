import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, post, type Session } from '../api'
import { STATE_LABELS } from '../DocumentsPage'
import type { Collab } from '../editor/collab'
import { useDirectory } from '../directory'
import { Alert } from '../Alert'
import type { Transition, WorkflowView } from '../apiTypes'

/** Platforms, their formats, and why one cannot be chosen yet (both need an image or video). */
const PLATFORMS: [string, string, string[], string?][] = [
  ['instagram', 'Instagram', ['feed', 'story', 'reel'], 'needs an image or video, which posts cannot carry yet'],
  ['x', 'X', ['feed']],
  ['linkedin', 'LinkedIn', ['feed']],
  ['facebook', 'Facebook', ['feed', 'story']],
  ['tiktok', 'TikTok', ['video'], 'needs a video, which posts cannot carry yet'],
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

  const targetsOf = (form: FormData) =>
    PLATFORMS.filter(([p]) => form.get(`on-${p}`)).map(([p]) => ({
      platform: p,
      format: String(form.get(`format-${p}`)),
    }))

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
      {last?.note && state !== 'scheduled' && <span className="hint">“{last.note}”</span>}
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
          <fieldset>
            <legend>Where</legend>
            {PLATFORMS.map(([p, label, formats, unavailable]) => (
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
            ))}
          </fieldset>
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
