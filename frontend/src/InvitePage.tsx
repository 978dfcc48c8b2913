import { useEffect, useState } from 'react'
import { ApiError, logout, post, refresh, type Role, type Session } from './api'
import { AuthScreen } from './AuthScreen'
import { reloadDirectory } from './directory'
import { useTitle } from './title'
import { Alert } from './Alert'
import type { InvitationPreview as Preview } from './apiTypes'

/** What each role may do, in the words an invitation uses. */
export const ROLE_WORDS: Record<Role, string> = {
  owner: 'an owner',
  admin: 'an admin (manages members and billing)',
  editor: 'an editor (writes and submits posts)',
  commenter: 'a commenter (reads and comments)',
  viewer: 'a viewer (reads)',
}

/**
 * An invitation link: who invites you, to which workspace, as what. Signed out, sign in or up
 * right here; signed in as the invited address, join and land in that workspace.
 */
export function InvitePage({ token, session }: { token: string; session: Session | null }) {
  const [preview, setPreview] = useState<Preview | null>(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  useTitle(preview ? `Join ${preview.account_name}` : 'Invitation')

  useEffect(() => {
    fetch(`/api/v1/invitations/${encodeURIComponent(token)}`)
      .then(async (r) => {
        if (!r.ok) throw new Error((await r.json().catch(() => null))?.error?.message ?? r.statusText)
        setPreview(await r.json())
      })
      .catch((e: Error) => setError(`This invitation cannot be used: ${e.message}.`))
  }, [token])

  async function join(p: Preview) {
    setBusy(true)
    try {
      await post('/invitations/accept', { token })
      await refresh(p.account_id)
      reloadDirectory(p.account_id)
      location.hash = '#/'
    } catch (e) {
      setError((e as ApiError).message)
      setBusy(false)
    }
  }

  if (error && !preview)
    return (
      <main className="auth">
        <div className="card stack">
          <p role="alert">{error}</p>
          <a href="#/">Go to creo</a>
        </div>
      </main>
    )
  if (!preview)
    return (
      <main className="auth">
        <p role="status">Reading the invitation…</p>
      </main>
    )

  const intro = (
    <p className="invite-intro" data-testid="invitation">
      <strong>{preview.inviter_name || 'Someone'}</strong> invites you to join <strong>{preview.account_name}</strong>{' '}
      as {ROLE_WORDS[preview.role]}.
    </p>
  )
  if (!session) return <AuthScreen intro={intro} email={preview.email} initialMode="register" />
  const wrongPerson = session.email.toLowerCase() !== preview.email.toLowerCase()
  return (
    <main className="auth">
      <h1 className="brand">creo</h1>
      <div className="card stack">
        {intro}
        {wrongPerson ? (
          <>
            <p role="alert">
              This invitation is for {preview.email}; you are signed in as {session.email}.
            </p>
            <button type="button" onClick={() => logout()}>
              Sign in as {preview.email}
            </button>
          </>
        ) : (
          <button type="button" className="primary" disabled={busy} onClick={() => join(preview)}>
            Join {preview.account_name}
          </button>
        )}
        <Alert text={error} />
      </div>
    </main>
  )
}
