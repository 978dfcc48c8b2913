import { useEffect, useState } from 'react'
import { api, ApiError, post, refresh, type Session } from './api'
import { Header } from './DocumentsPage'
import { reloadDirectory } from './directory'
import { ROLE_WORDS } from './InvitePage'
import { useTitle } from './title'
import { Alert } from './Alert'
import type { MyInvitation } from './apiTypes'

/** The invitations waiting for your address, where the inbox's invitation notices lead. */
export function MyInvitations({ session }: { session: Session }) {
  const [invitations, setInvitations] = useState<MyInvitation[] | null>(null)
  const [error, setError] = useState('')
  useTitle('Invitations')
  useEffect(() => {
    api<MyInvitation[]>('/users/me/invitations')
      .then(setInvitations)
      .catch((e: ApiError) => setError(e.message))
  }, [])

  async function join(inv: MyInvitation) {
    setError('')
    try {
      await post(`/users/me/invitations/${inv.invitation_id}/accept`)
      await refresh(inv.account_id)
      reloadDirectory(inv.account_id)
      location.hash = '#/'
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  return (
    <>
      <Header session={session} />
      <main className="documents">
        <section aria-labelledby="invitations-title" className="card stack">
          <h1 id="invitations-title">Invitations</h1>
          <Alert text={error} />
          {invitations === null ? (
            <p>Loading…</p>
          ) : invitations.length === 0 ? (
            <p>No invitations wait for {session.email}.</p>
          ) : (
            <ul className="doc-list">
              {invitations.map((inv) => (
                <li key={inv.invitation_id}>
                  <span>
                    <strong>{inv.inviter_name || 'Someone'}</strong> invites you to <strong>{inv.account_name}</strong>{' '}
                    as {ROLE_WORDS[inv.role]}.
                  </span>
                  <button type="button" className="primary" onClick={() => join(inv)}>
                    Join {inv.account_name}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      </main>
    </>
  )
}
