import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, logout, nameOf, post, refresh, type Session } from './api'
import { documentLink } from './App'
import { when } from './format'
import { MembersPanel } from './MembersPanel'
import { CreditsPanel } from './panels/CreditsPanel'
import { useTitle } from './title'
import { Alert } from './Alert'
import { Bell } from './Inbox'
import type { AccountWithRole as Account, Listed } from './apiTypes'

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
      <span className="who" title={session.email}>
        {nameOf(session)}
      </span>
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
        <section aria-labelledby="docs-title" className="card">
          <h1 id="docs-title">Documents</h1>
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
        {manager && <CreditsPanel accountId={session.accountId} />}
      </main>
    </>
  )
}
