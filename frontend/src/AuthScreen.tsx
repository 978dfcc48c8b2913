import { useState, type FormEvent, type ReactNode } from 'react'
import { ApiError, login, register, sessionEndedBecause } from './api'
import { useTitle } from './title'
import { Alert } from './Alert'
import { ForgotPassword } from './PasswordReset'

/** Log in or sign up; `intro` says why (an invitation), `email` fills in the address it was for. */
export function AuthScreen({
  intro,
  email,
  initialMode = 'login',
}: {
  intro?: ReactNode
  email?: string
  initialMode?: 'login' | 'register'
}) {
  const [mode, setMode] = useState<'login' | 'register' | 'forgot'>(initialMode)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  useTitle(mode === 'login' ? 'Log in' : 'Sign up')
  if (mode === 'forgot')
    return (
      <main className="auth">
        <h1 className="brand">creo</h1>
        <ForgotPassword email={email} onBack={() => setMode('login')} />
      </main>
    )

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const address = String(form.get('email'))
    const password = String(form.get('password'))
    setBusy(true)
    setError('')
    try {
      if (mode === 'register') await register(address, password, String(form.get('name') ?? ''))
      else await login(address, password)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="auth">
      <h1 className="brand">creo</h1>
      {intro ?? <p className="tagline">Write, review and publish posts together, with AI at your side.</p>}
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
          <input name="email" type="email" autoComplete="email" defaultValue={email} required />
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
        <Alert text={error} />
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
        {mode === 'login' && (
          <button type="button" className="link" onClick={() => setMode('forgot')}>
            Forgot your password?
          </button>
        )}
      </form>
    </main>
  )
}
