import { lazy, Suspense, useEffect, useState, type FormEvent } from 'react'
import { ApiError, login, onSession, post, register, session, sessionEndedBecause, type Session } from './api'
import { DocumentsPage } from './DocumentsPage'

// The editor (Tiptap, ProseMirror, Yjs) is most of the code: it loads only when a document opens,
// so the login form and the documents list paint first.
const EditorPage = lazy(() => import('./editor/EditorPage').then((m) => ({ default: m.EditorPage })))

// Addresses live in the hash (#/doc/launch-post, #/invite/inv_…), so the server only ever has to
// serve index.html and any address can be bookmarked or reloaded.
function useHash(): string {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const update = () => setHash(location.hash)
    addEventListener('hashchange', update)
    return () => removeEventListener('hashchange', update)
  }, [])
  return hash
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
  const doc = hash.match(/^#\/doc\/([A-Za-z0-9._-]{1,128})$/)
  const shown = current ?? (doc ? ended : null)

  if (!shown) return <AuthScreen />
  if (doc)
    return (
      <Suspense fallback={<p className="loading" role="status">Opening the editor…</p>}>
        <EditorPage
          key={`${doc[1]}:${shown.accountId}`}
          docId={doc[1]}
          session={shown}
          onSignInAgain={current ? undefined : () => setEnded(null)}
        />
      </Suspense>
    )
  if (!current) return <AuthScreen />
  const invite = hash.match(/^#\/invite\/(.+)$/)
  if (invite) return <AcceptInvitation token={decodeURIComponent(invite[1])} />
  return <DocumentsPage key={current.accountId} session={current} />
}

function AuthScreen() {
  const [mode, setMode] = useState<'login' | 'register'>('login')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const email = String(form.get('email'))
    const password = String(form.get('password'))
    setBusy(true)
    setError('')
    try {
      if (mode === 'register') await register(email, password, String(form.get('name') ?? ''))
      else await login(email, password)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="auth">
      <h1 className="brand">creo</h1>
      <p className="tagline">Write, review and publish posts together, with AI at your side.</p>
      <form onSubmit={submit} className="card stack" aria-labelledby="auth-title">
        <h2 id="auth-title">{mode === 'login' ? 'Log in' : 'Create your account'}</h2>
        {sessionEndedBecause() && (
          <p className="notice" role="status">
            {sessionEndedBecause()}
          </p>
        )}
        {mode === 'register' && (
          <label>
            Your name
            <input name="name" autoComplete="name" required />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            minLength={10}
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            required
          />
        </label>
        {mode === 'register' && <p className="hint">At least 10 characters.</p>}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {mode === 'login' ? 'Log in' : 'Sign up'}
        </button>
        <button
          type="button"
          className="link"
          onClick={() => {
            setMode(mode === 'login' ? 'register' : 'login')
            setError('')
          }}
        >
          {mode === 'login' ? 'New here? Create an account' : 'Have an account? Log in'}
        </button>
      </form>
    </main>
  )
}

function AcceptInvitation({ token }: { token: string }) {
  const [message, setMessage] = useState('Joining…')
  useEffect(() => {
    post('/invitations/accept', { token })
      .then(() => setMessage('You joined the account. Pick it from your accounts.'))
      .catch((e: ApiError) => setMessage(e.message))
  }, [token])
  return (
    <main className="auth">
      <div className="card stack">
        <p role="status">{message}</p>
        <a href="#/">Go to your documents</a>
      </div>
    </main>
  )
}
