import { useEffect, useState, type FormEvent } from 'react'
import { api, ApiError } from '../api'
import type { Collab } from './collab'

/** The title: a field for those who may write (saved on Enter or leaving it), a heading for the rest. */
export function DocTitle({
  docId,
  title,
  onTitle,
  canWrite,
  collab,
}: {
  docId: string
  title: string
  onTitle: (t: string) => void
  canWrite: boolean
  collab: Collab | null
}) {
  const [draft, setDraft] = useState(title)
  const [error, setError] = useState('')
  useEffect(() => setDraft(title), [title])
  // Someone else renamed it.
  useEffect(
    () => collab?.onEvent((e) => e.type === 'title' && typeof e.title === 'string' && onTitle(e.title)),
    [collab, onTitle],
  )
  async function save(e?: FormEvent) {
    e?.preventDefault()
    const next = draft.trim()
    if (!next || next === title) return setDraft(title)
    try {
      await api(`/documents/${docId}/title`, { method: 'PUT', body: JSON.stringify({ title: next }) })
      onTitle(next)
      setError('')
    } catch (err) {
      setError((err as ApiError).message)
    }
  }
  if (!canWrite) return <h1 className="doc-title">{title}</h1>
  return (
    <form onSubmit={save} className="doc-title-form">
      <h1 className="visually-hidden">{title}</h1>
      <input
        className="doc-title-input"
        aria-label="Document title"
        value={draft}
        maxLength={200}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => save()}
      />
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </form>
  )
}

/** Copies the document's address (with its workspace, so it opens from any other one). */
export function CopyLink({ link }: { link: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'refused'>('idle')
  if (state === 'refused')
    return <input readOnly value={link} aria-label="Link to this document" onFocus={(e) => e.target.select()} />
  return (
    <button
      type="button"
      className="ghost"
      onClick={() =>
        navigator.clipboard
          .writeText(link)
          .then(() => setState('copied'))
          .catch(() => setState('refused'))
      }
    >
      {state === 'copied' ? 'Link copied' : 'Copy link'}
    </button>
  )
}

/**
 * Makes a copy of the post (its content as it is now, as a new draft) and opens it. Wide screens
 * only: on a phone the header keeps to what the text needs above it.
 */
export function DuplicateButton({ docId, onMade }: { docId: string; onMade: (copyId: string) => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  return (
    <>
      <button
        type="button"
        className="ghost wide-only"
        disabled={busy}
        onClick={async () => {
          setBusy(true)
          try {
            const made = await api<{ doc_id: string }>(`/documents/${docId}/duplicate`, {
              method: 'POST',
              body: JSON.stringify({}),
            })
            setError('')
            onMade(made.doc_id)
          } catch (err) {
            setError((err as ApiError).message)
          } finally {
            setBusy(false)
          }
        }}
      >
        Duplicate
      </button>
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </>
  )
}
