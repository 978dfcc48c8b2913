import { useState, type FormEvent, type ReactNode } from 'react'
import { ApiError, login, register, secondStep, sessionEndedBecause } from './api'
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
  // The password was right and a second factor is on: the code comes next.
  const [pending, setPending] = useState<{ email: string; challenge: string } | null>(null)
  useTitle(pending ? 'Two-step sign-in' : mode === 'login' ? 'Log in' : 'Sign up')
  if (pending)
    return (
      <main className="auth">
        <h1 className="brand">creo</h1>
        <SecondStep {...pending} onBack={() => setPending(null)} />
      </main>
    )
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
      else {
        const { challenge } = await login(address, password)
        if (challenge) setPending({ email: address, challenge })
      }
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

/** The code from the authenticator app (or a recovery code), after a right password. */
function SecondStep({ email, challenge, onBack }: { email: string; challenge: string; onBack: () => void }) {
  const [recovery, setRecovery] = useState(false)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const value = String(new FormData(e.currentTarget).get('code')).trim()
    setBusy(true)
    setError('')
    try {
      await secondStep(email, challenge, recovery ? { recovery_code: value } : { code: value.replace(/\s/g, '') })
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_mfa_challenge') onBack()
      setError(err instanceof ApiError ? err.message : 'The server could not be reached')
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} className="card stack" aria-labelledby="mfa-title">
      <h2 id="mfa-title">Two-step sign-in</h2>
      <p className="hint">
        {recovery
          ? 'Type one of the recovery codes you saved when you set up two-step sign-in. Each works once.'
          : 'Open your authenticator app and type the six-digit code it shows for creo.'}
      </p>
      <label>
        {recovery ? 'Recovery code' : 'Code'}
        <input
          key={recovery ? 'recovery' : 'code'}
          name="code"
          autoComplete="one-time-code"
          inputMode={recovery ? 'text' : 'numeric'}
          pattern={recovery ? undefined : '[0-9 ]{6,7}'}
          maxLength={recovery ? 32 : 7}
          autoFocus
          required
        />
      </label>
      <Alert text={error} />
      <button type="submit" className="primary" disabled={busy}>
        Continue
      </button>
      <button type="button" className="link" onClick={() => setRecovery(!recovery)}>
        {recovery ? 'Use a code from the app instead' : 'Lost your phone? Use a recovery code'}
      </button>
      <button type="button" className="link" onClick={onBack}>
        Back to log in
      </button>
    </form>
  )
}
