import { useState, type FormEvent } from 'react'
import { api, ApiError, post, type Role, type Session } from './api'
import { useConfirm } from './Confirm'
import { reloadDirectory, useDirectory } from './directory'
import { Alert } from './Alert'

const ROLES: [Role, string][] = [
  ['owner', 'Owner'],
  ['admin', 'Admin'],
  ['editor', 'Editor'],
  ['commenter', 'Commenter'],
  ['viewer', 'Viewer'],
]

/**
 * The people of the workspace. Everyone sees who is in it; owners and admins invite (with a
 * link to copy), change roles and remove people. The server enforces the same rules (admins
 * cannot touch owners; the last owner stays).
 */
export function MembersPanel({ session }: { session: Session }) {
  const { members } = useDirectory(session.accountId)
  const manager = session.role === 'owner' || session.role === 'admin'
  const [message, setMessage] = useState('')
  const [error, setError] = useState('')
  const [confirmation, confirm] = useConfirm()

  async function act(what: Promise<unknown>, done: string) {
    try {
      await what
      setError('')
      setMessage(done)
      reloadDirectory(session.accountId)
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  const path = (userId: string) => `/accounts/${session.accountId}/members/${userId}`
  return (
    <section aria-labelledby="members-title" className="card stack">
      <h2 id="members-title">People</h2>
      {confirmation}
      <ul className="members">
        {members.map((m) => {
          const you = m.user_id === session.userId
          const label = `${m.name || m.email}${you ? ' (you)' : ''}`
          const touchable = manager && !you && (session.role === 'owner' || m.role !== 'owner')
          return (
            <li key={m.user_id} data-testid="member">
              <span className="member-name">
                <strong>{label}</strong>
                {m.email && m.name && <span className="hint"> {m.email}</span>}
              </span>
              {touchable ? (
                <>
                  <label className="inline">
                    <span className="visually-hidden">Role of {label}</span>
                    <select
                      value={m.role}
                      onChange={(e) =>
                        act(
                          api(path(m.user_id), { method: 'PUT', body: JSON.stringify({ role: e.target.value }) }),
                          `${label} is now ${e.target.value}`,
                        )
                      }
                    >
                      {ROLES.filter(([r]) => session.role === 'owner' || r !== 'owner').map(([r, name]) => (
                        <option key={r} value={r}>
                          {name}
                        </option>
                      ))}
                    </select>
                  </label>
                  <button
                    type="button"
                    onClick={async () => {
                      if (await confirm(`Remove ${label} from this workspace? Their open documents close at once.`, 'Remove'))
                        act(api(path(m.user_id), { method: 'DELETE' }), `${label} was removed`)
                    }}
                  >
                    Remove<span className="visually-hidden"> {label}</span>
                  </button>
                </>
              ) : (
                <span className="badge">{ROLES.find(([r]) => r === m.role)?.[1]}</span>
              )}
            </li>
          )
        })}
      </ul>
      <p role="status" className="hint">
        {message}
      </p>
      <Alert text={error} />
      {manager && <InviteForm accountId={session.accountId} />}
    </section>
  )
}

function InviteForm({ accountId }: { accountId: string }) {
  const [link, setLink] = useState('')
  const [copied, setCopied] = useState(false)
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
      setCopied(false)
      setError('')
    } catch (err) {
      setError((err as ApiError).message)
    }
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText(link)
      setCopied(true)
    } catch {
      setError('The browser did not allow copying: select the link and copy it by hand.')
    }
  }
  return (
    <>
      <h3>Invite someone</h3>
      <form onSubmit={invite} className="invite-form">
        <label>
          Email
          <input name="email" type="email" required />
        </label>
        <label>
          Role
          <select name="role" defaultValue="editor">
            {ROLES.filter(([r]) => r !== 'owner').map(([r, name]) => (
              <option key={r} value={r}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Invite</button>
      </form>
      {link && (
        <div className="stack">
          <label>
            Send them this link
            <input readOnly value={link} onFocus={(e) => e.target.select()} />
          </label>
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy link'}
          </button>
        </div>
      )}
      <Alert text={error} />
    </>
  )
}
