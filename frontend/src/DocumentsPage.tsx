import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, logout, post, refresh, type Role, type Session } from './api'
import { CreditsPanel } from './panels/CreditsPanel'

interface Account {
  account_id: string
  name: string
  tier: string
  role: Role
}

interface Listed {
  doc_id: string
  updated_at_ms: number
  workflow_state: string
}

export const STATE_LABELS: Record<string, string> = {
  draft: 'Draft',
  in_review: 'In review',
  changes_requested: 'Changes requested',
  approved: 'Approved',
  scheduled: 'Scheduled',
  published: 'Published',
  failed: 'Failed',
}

/** A document id from a title: lower case words joined by dashes. */
function slug(title: string): string {
  return title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 128)
}

export function Header({ session, children }: { session: Session; children?: React.ReactNode }) {
  return (
    <header className="topbar">
      <a href="#/" className="brand" aria-label="creo: your documents">
        creo
      </a>
      <div className="topbar-middle">{children}</div>
      <span className="who" title={session.email}>
        {session.email}
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
    const id = slug(String(new FormData(e.currentTarget).get('title')))
    if (!id) return setError('Give the document a title with letters or digits')
    try {
      await post('/documents', { id })
      location.hash = `#/doc/${id}`
    } catch (err) {
      setError((err as ApiError).message)
    }
  }

  return (
    <>
      <Header session={session}>
        <label className="inline">
          <span className="visually-hidden">Account</span>
          <select
            value={session.accountId}
            onChange={(e) => refresh(e.target.value).catch((err: ApiError) => setError(err.message))}
          >
            {accounts.length === 0 && <option value={session.accountId}>{session.accountId}</option>}
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
          {error && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
          {docs === null ? (
            <p>Loading…</p>
          ) : docs.length === 0 ? (
            <p>No documents yet.</p>
          ) : (
            <ul className="doc-list">
              {docs.map((d) => (
                <li key={d.doc_id}>
                  <a href={`#/doc/${d.doc_id}`}>{d.doc_id}</a>
                  <span className={`badge state-${d.workflow_state}`}>{STATE_LABELS[d.workflow_state]}</span>
                  <time dateTime={new Date(d.updated_at_ms).toISOString()}>
                    {new Date(d.updated_at_ms).toLocaleString()}
                  </time>
                </li>
              ))}
            </ul>
          )}
        </section>
        {manager && <InvitePanel accountId={session.accountId} />}
        {manager && <CreditsPanel accountId={session.accountId} />}
      </main>
    </>
  )
}

function InvitePanel({ accountId }: { accountId: string }) {
  const [link, setLink] = useState('')
  const [error, setError] = useState('')
  async function invite(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    try {
      const created = await post<{ token: string }>(`/accounts/${accountId}/invitations`, {
        email: form.get('email'),
        role: form.get('role'),
      })
      setLink(`${location.origin}${location.pathname}#/invite/${encodeURIComponent(created.token)}`)
      setError('')
    } catch (err) {
      setError((err as ApiError).message)
    }
  }
  return (
    <section aria-labelledby="invite-title" className="card">
      <h2 id="invite-title">Invite someone</h2>
      <form onSubmit={invite} className="row wrap">
        <label className="grow">
          Email
          <input name="email" type="email" required />
        </label>
        <label>
          Role
          <select name="role" defaultValue="editor">
            <option value="admin">Admin</option>
            <option value="editor">Editor</option>
            <option value="commenter">Commenter</option>
            <option value="viewer">Viewer</option>
          </select>
        </label>
        <button type="submit">Invite</button>
      </form>
      {link && (
        <p>
          Send them this link: <input readOnly value={link} aria-label="Invitation link" onFocus={(e) => e.target.select()} />
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  )
}
