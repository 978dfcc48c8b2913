import { lazy, Suspense, useEffect, useState } from 'react'
import { api, onSession, refresh, session, sessionEndedBecause, type Session } from './api'
import { AuthScreen } from './AuthScreen'
import { DocumentsPage } from './DocumentsPage'
import { InvitePage } from './InvitePage'
import { ConfirmEmailChange, VerifyEmail } from './LinkPages'
import { MyInvitations } from './MyInvitations'
import { CalendarPage } from './CalendarPage'
import { ResetPassword } from './PasswordReset'
import { SecurityPage } from './SecurityPage'

// The editor (Tiptap, ProseMirror, Yjs) is most of the code: it loads only when a document opens,
// so the login form and the documents list paint first.
const EditorPage = lazy(() => import('./editor/EditorPage').then((m) => ({ default: m.EditorPage })))

// Addresses live in the hash (#/w/<workspace>/doc/<id>, #/invite/<token>, #/reset/<token>, #/verify/<token>,
// #/email-change/<token>, #/security, #/invitations, #/calendar), so the server only
// ever has to serve index.html and any address can be bookmarked, shared or reloaded.
function useHash(): string {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const update = () => setHash(location.hash)
    addEventListener('hashchange', update)
    return () => removeEventListener('hashchange', update)
  }, [])
  return hash
}

/** The address of a document, with its workspace so the link works from any other one. */
export function documentLink(accountId: string, docId: string): string {
  return `#/w/${encodeURIComponent(accountId)}/doc/${encodeURIComponent(docId)}`
}

/** A document address: `#/w/<workspace>/doc/<id>`, or `#/doc/<id>` in the current workspace. */
function parseDocument(hash: string): { account?: string; docId: string } | null {
  const full = hash.match(/^#\/w\/([^/]{1,128})\/doc\/([A-Za-z0-9._-]{1,128})$/)
  if (full) return { account: decodeURIComponent(full[1]), docId: full[2] }
  const short = hash.match(/^#\/doc\/([A-Za-z0-9._-]{1,128})$/)
  return short ? { docId: short[1] } : null
}

export function App() {
  const [current, setCurrent] = useState<Session | null>(session())
  // The session the server ended while a document was open: the editor stays on screen,
  // read-only, until the person chooses to sign in again.
  const [ended, setEnded] = useState<Session | null>(null)
  useEffect(
    () =>
      onSession((next) => {
        setCurrent((before) => {
          if (!next && before && sessionEndedBecause()) setEnded(before)
          return next
        })
      }),
    [],
  )
  const hash = useHash()
  const invite = hash.match(/^#\/invite\/(.+)$/)
  if (invite) return <InvitePage token={decodeURIComponent(invite[1])} session={current} />
  const reset = hash.match(/^#\/reset\/([A-Za-z0-9_]{1,128})$/)
  if (reset) return <ResetPassword token={reset[1]} />
  const verify = hash.match(/^#\/verify\/([A-Za-z0-9_]{1,128})$/)
  if (verify) return <VerifyEmail token={verify[1]} />
  const moved = hash.match(/^#\/email-change\/([A-Za-z0-9_]{1,128})$/)
  if (moved) return <ConfirmEmailChange token={moved[1]} />

  const doc = parseDocument(hash)
  const shown = current ?? (doc ? ended : null)
  if (!shown) return <AuthScreen />
  if (doc) {
    if (current && doc.account && doc.account !== current.accountId)
      return <SwitchWorkspace key={doc.account} accountId={doc.account} />
    return (
      <Suspense fallback={<p className="loading" role="status">Opening the editor…</p>}>
        <EditorPage
          key={`${doc.docId}:${shown.accountId}`}
          docId={doc.docId}
          session={shown}
          onSignInAgain={current ? undefined : () => setEnded(null)}
        />
      </Suspense>
    )
  }
  if (!current) return <AuthScreen />
  if (hash === '#/security') return <SecurityPage key={current.accountId} session={current} />
  if (hash === '#/invitations') return <MyInvitations session={current} />
  if (hash === '#/calendar') return <CalendarPage key={current.accountId} session={current} />
  return <DocumentsPage key={current.accountId} session={current} />
}

/** A link into another workspace of yours: switch to it, then the page opens the document. */
function SwitchWorkspace({ accountId }: { accountId: string }) {
  const [error, setError] = useState('')
  useEffect(() => {
    // Asked first: a refresh for an account you are not in would spend the refresh token.
    api<{ account_id: string }[]>('/accounts')
      .then((mine) => {
        if (!mine.some((a) => a.account_id === accountId)) throw new Error('not a member')
        return refresh(accountId)
      })
      .catch(() => setError('This link is for a workspace you are not a member of. Ask its owner for an invitation.'))
  }, [accountId])
  return (
    <main className="auth">
      <div className="card stack">
        <p role={error ? 'alert' : 'status'}>{error || 'Switching workspace…'}</p>
        {error && <a href="#/">Go to your documents</a>}
      </div>
    </main>
  )
}
