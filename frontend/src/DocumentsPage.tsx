import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, logout, markVerified, nameOf, post, refresh, type Session } from './api'
import { documentLink } from './App'
import { when } from './format'
import { MembersPanel } from './MembersPanel'
import { ChannelsPanel } from './ChannelsPanel'
import { CreditsPanel } from './panels/CreditsPanel'
import { useTitle } from './title'
import { Alert } from './Alert'
import { Bell } from './Inbox'
import type { AccountWithRole as Account, Listed, Me } from './apiTypes'

export const STATE_LABELS: Record<string, string> = {
  draft: 'Draft',
  in_review: 'In review',
  changes_requested: 'Changes requested',
  approved: 'Approved',
  scheduled: 'Scheduled',
  published: 'Published',
  failed: 'Failed',
}

export function Header({ session, children }: { session: Session; children?: React.ReactNode }) {
  return (
    <header className="topbar">
      <a href="#/" className="brand" aria-label="creo: your documents">
        creo
      </a>
      <div className="topbar-middle">{children}</div>
      <Bell />
      <a href="#/security" className="who" title={`${session.email}: email and two-step sign-in`}>
        {nameOf(session)}
      </a>
      <button type="button" className="ghost" onClick={() => logout()}>
        Log out
      </button>
    </header>
  )
}

export function DocumentsPage({ session }: { session: Session }) {
  const [accounts, setAccounts] = useState<Account[]>([])
  const [docs, setDocs] = useState<Listed[] | null>(null)
  const [error, setError] = useState('')
  const manager = session.role === 'owner' || session.role === 'admin'
  const canWrite = manager || session.role === 'editor'
  useTitle('Documents')

  const load = useCallback(() => {
    api<{ documents: Listed[] }>('/documents')
      .then((r) => setDocs(r.documents))
      .catch((e: ApiError) => setError(e.message))
  }, [])
  useEffect(() => {
    load()
    api<Account[]>('/accounts').then(setAccounts).catch(() => {})
  }, [load])

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const title = String(new FormData(e.currentTarget).get('title')).trim()
    if (!title) return setError('Give the document a title')
    try {
      const made = await post<{ doc_id: string }>('/documents', { title })
      location.hash = documentLink(session.accountId, made.doc_id)
    } catch (err) {
      setError((err as ApiError).message)
    }
  }

  return (
    <>
      <Header session={session}>
        <label className="inline">
          <span className="visually-hidden">Workspace</span>
          <select
            value={session.accountId}
            onChange={(e) => refresh(e.target.value).catch((err: ApiError) => setError(err.message))}
          >
            {accounts.length === 0 && <option value={session.accountId}>This workspace</option>}
            {accounts.map((a) => (
              <option key={a.account_id} value={a.account_id}>
                {a.name} ({a.role})
              </option>
            ))}
          </select>
        </label>
      </Header>
      <main className="documents">
        {session.unverified && <UnverifiedNotice />}
        <section aria-labelledby="docs-title" className="card">
          <div className="row wrap">
            <h1 id="docs-title" className="grow">
              Documents
            </h1>
            <a href="#/calendar">Calendar</a>
          </div>
          {canWrite && (
            <form onSubmit={create} className="row">
              <label className="grow">
                <span className="visually-hidden">New document title</span>
                <input name="title" placeholder="New post title, e.g. Spring launch" required />
              </label>
              <button type="submit" className="primary">
                Create
              </button>
            </form>
          )}
          <Alert text={error} />
          {docs === null ? (
            <p>Loading…</p>
          ) : docs.length === 0 ? (
            <p>No documents yet.</p>
          ) : (
            <ul className="doc-list">
              {docs.map((d) => (
                <li key={d.doc_id}>
                  <a href={documentLink(session.accountId, d.doc_id)}>{d.title || d.doc_id}</a>
                  <span className={`badge state-${d.workflow_state}`}>{STATE_LABELS[d.workflow_state]}</span>
                  <time dateTime={new Date(d.updated_at_ms).toISOString()}>{when(d.updated_at_ms)}</time>
                </li>
              ))}
            </ul>
          )}
        </section>
        <MembersPanel session={session} />
        <ChannelsPanel session={session} />
        {manager && <CreditsPanel accountId={session.accountId} />}
      </main>
    </>
  )
}

/**
 * Until the address is confirmed (while this server asks for it), a line that says why it
 * matters. Shown only for a session that signed in unconfirmed; it asks once whether that is
 * still so (the link may have been followed since).
 */
function UnverifiedNotice() {
  const [me, setMe] = useState<Me | null>(null)
  const [sent, setSent] = useState('')
  useEffect(() => {
    api<Me>('/users/me')
      .then((m) => {
        setMe(m)
        if (m.email_verified || !m.verification_required) markVerified()
      })
      .catch(() => {})
  }, [])
  if (!me || me.email_verified || !me.verification_required) return null
  return (
    <div className="notice row wrap" role="status" data-testid="unverified">
      <p className="grow">
        Confirm your email: we sent a link to <strong>{me.email}</strong>. Until then you can edit, but spend only a few
        credits and invite nobody.
      </p>
      <button
        type="button"
        onClick={() =>
          post('/users/me/email/verification')
            .then(() => setSent('A new link is on its way.'))
            .catch((e: ApiError) => setSent(e.message))
        }
      >
        Send the link again
      </button>
      {sent && <p className="hint">{sent}</p>}
    </div>
  )
}
