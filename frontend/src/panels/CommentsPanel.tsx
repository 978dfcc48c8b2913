import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { Editor } from '@tiptap/react'
import { api, ApiError, post } from '../api'
import { useDirectory, type Member } from '../directory'
import type { Collab } from '../editor/collab'
import { showHighlights } from '../editor/commentMarks'
import { when } from '../format'
import { Alert } from '../Alert'
import type { Thread } from '../apiTypes'

/** What the editor hands over when someone comments on a selection. */
export interface NewAnchor {
  field: string
  index: number
  length: number
  quoted: string
}

export function CommentsPanel({
  docId,
  accountId,
  connection,
  field,
  collab,
  editor,
  canComment,
  anchor,
  onAnchorUsed,
}: {
  docId: string
  accountId: string
  connection: number
  field: string
  collab: Collab
  editor: Editor | null
  canComment: boolean
  anchor: NewAnchor | null
  onAnchorUsed: () => void
}) {
  const [threads, setThreads] = useState<Thread[]>([])
  const [showResolved, setShowResolved] = useState(false)
  const [active, setActive] = useState<string | null>(null)
  const [error, setError] = useState('')
  const { members, nameOf, named } = useDirectory(accountId)

  const load = useCallback(() => {
    api<Thread[]>(`/documents/${docId}/comments`)
      .then((t) => {
        setThreads(t)
        setError('')
      })
      .catch((e: ApiError) => setError(e.message))
  }, [docId])
  useEffect(() => {
    load()
    return collab.onEvent((e) => e.type === 'comment' && load())
  }, [collab, load, connection])

  // The open threads anchored in the field on screen are highlighted in the text; the
  // highlights then follow everyone's typing on their own (commentMarks.ts).
  useEffect(() => {
    if (!editor || editor.isDestroyed) return
    const highlights = threads.flatMap((t) => {
      const first = t.comments[0]
      if (t.resolved || !first?.span || first.anchor?.field !== field) return []
      return [{ threadId: t.thread_id, ...first.span, active: t.thread_id === active }]
    })
    showHighlights(editor, highlights)
  }, [editor, threads, field, active])

  /** Sends; resolves true when the server took it (a failure keeps the draft where it is). */
  async function send(promise: Promise<unknown>): Promise<boolean> {
    try {
      await promise
      setError('')
      load()
      return true
    } catch (e) {
      setError(`Not sent: ${(e as ApiError).message}. Your text is still here.`)
      return false
    }
  }

  async function create(body: string) {
    if (!anchor) return false
    const { field: f, index, length } = anchor
    const sent = await send(post(`/documents/${docId}/comments`, { body, anchor: { field: f, index, length } }))
    if (sent) onAnchorUsed()
    return sent
  }

  const visible = threads.filter((t) => showResolved || !t.resolved)
  return (
    <section aria-labelledby="comments-title" className="panel">
      <h2 id="comments-title">Comments</h2>
      {anchor && canComment && (
        <div className="stack card-inset">
          <blockquote>“{anchor.quoted}”</blockquote>
          <CommentForm label="Your comment" submit="Comment" members={members} onSend={create} autoFocus rows={3}>
            <button type="button" onClick={onAnchorUsed}>
              Cancel
            </button>
          </CommentForm>
        </div>
      )}
      {!anchor && canComment && <p className="hint">Select text in the post, then “Comment on selection”.</p>}
      <Alert text={error} />
      <label className="inline">
        <input type="checkbox" checked={showResolved} onChange={(e) => setShowResolved(e.target.checked)} /> Show
        resolved
      </label>
      {visible.length === 0 && <p>No comments yet.</p>}
      <ol className="threads">
        {visible.map((t) => {
          const first = t.comments[0]
          return (
            <li
              key={t.thread_id}
              className={t.resolved ? 'thread resolved' : 'thread'}
              onMouseEnter={() => setActive(t.thread_id)}
              onMouseLeave={() => setActive(null)}
              onFocus={() => setActive(t.thread_id)}
            >
              {first?.anchor && (
                <blockquote>
                  “{first.anchor.quoted}”{!first.span && <em> (text deleted)</em>}
                </blockquote>
              )}
              <ul className="comments">
                {t.comments.map((comment) => (
                  <li key={comment.comment_id}>
                    <strong>{nameOf(comment.author)}</strong>{' '}
                    <time dateTime={new Date(comment.created_at).toISOString()} className="hint">
                      {when(comment.created_at)}
                    </time>
                    <p className="comment-body">
                      <Mentions body={comment.body} nameOf={named} />
                    </p>
                  </li>
                ))}
              </ul>
              {canComment && (
                <div className="stack">
                  {!t.resolved && (
                    <CommentForm
                      label="Reply"
                      submit="Reply"
                      members={members}
                      rows={1}
                      onSend={(body) => send(post(`/documents/${docId}/comments`, { body, reply_to: t.thread_id }))}
                    />
                  )}
                  <button
                    type="button"
                    onClick={() =>
                      send(post(`/documents/${docId}/comments/${t.thread_id}/${t.resolved ? 'reopen' : 'resolve'}`))
                    }
                  >
                    {t.resolved ? 'Reopen' : 'Resolve'}
                  </button>
                </div>
              )}
            </li>
          )
        })}
      </ol>
    </section>
  )
}

/** A comment body as people wrote it, with `@user_id` mentions shown as names. */
function Mentions({ body, nameOf }: { body: string; nameOf: (id: string) => string }) {
  const parts = body.split(/(@[A-Za-z0-9_:.-]+)/g)
  return (
    <>
      {parts.map((part, i) =>
        part.startsWith('@') && i % 2 === 1 ? (
          <span key={i} className="mention">
            @{nameOf(part.slice(1))}
          </span>
        ) : (
          part
        ),
      )}
    </>
  )
}

/**
 * A comment box: Ctrl+Enter (or ⌘+Enter) sends; typing @ offers the workspace's people (arrow
 * keys and Enter pick one); the text stays when sending fails. A picked person is written as
 * `@Name` here and sent as `@user_id`, which is what the server notifies.
 */
function CommentForm({
  label,
  submit,
  members,
  onSend,
  rows,
  autoFocus,
  children,
}: {
  label: string
  submit: string
  members: Member[]
  onSend: (body: string) => Promise<boolean>
  rows: number
  autoFocus?: boolean
  children?: React.ReactNode
}) {
  const [text, setText] = useState('')
  const [picked, setPicked] = useState<Map<string, string>>(new Map())
  const [query, setQuery] = useState<string | null>(null)
  const [choice, setChoice] = useState(0)
  const [busy, setBusy] = useState(false)
  const box = useRef<HTMLTextAreaElement>(null)
  const listId = useRef(`mentions-${Math.random().toString(36).slice(2)}`).current

  const options =
    query === null
      ? []
      : members.filter((m) => (m.name || m.email || '').toLowerCase().includes(query.toLowerCase())).slice(0, 6)

  function onChange(value: string) {
    setText(value)
    const caret = box.current?.selectionStart ?? value.length
    const typed = value.slice(0, caret).match(/(?:^|\s)@([^\s@]*)$/)
    setQuery(typed ? typed[1] : null)
    setChoice(0)
  }

  function pick(m: Member) {
    const name = m.name || m.email || 'someone'
    const caret = box.current?.selectionStart ?? text.length
    const before = text.slice(0, caret).replace(/@([^\s@]*)$/, `@${name} `)
    setText(before + text.slice(caret))
    setPicked(new Map(picked).set(name, m.user_id))
    setQuery(null)
    box.current?.focus()
  }

  async function sendNow(e?: FormEvent) {
    e?.preventDefault()
    let body = text.trim()
    if (!body || busy) return
    // Longest names first, so "Ann Lee" is not taken for "Ann".
    for (const [name, id] of [...picked].sort((a, b) => b[0].length - a[0].length)) {
      body = body.split(`@${name}`).join(`@${id}`)
    }
    setBusy(true)
    const sent = await onSend(body)
    setBusy(false)
    if (sent) {
      setText('')
      setPicked(new Map())
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (options.length > 0) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        setChoice((c) => (c + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length)
        return
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault()
        pick(options[choice])
        return
      }
      if (e.key === 'Escape') {
        e.preventDefault()
        setQuery(null)
        return
      }
    }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) sendNow(e)
  }

  return (
    <form onSubmit={sendNow} className="stack comment-form">
      <label>
        {label}
        <textarea
          ref={box}
          name="body"
          required
          autoFocus={autoFocus}
          rows={rows}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={onKeyDown}
          role="combobox"
          aria-expanded={options.length > 0}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={options.length > 0 ? `${listId}-${choice}` : undefined}
          aria-describedby={`${listId}-hint`}
        />
      </label>
      <span id={`${listId}-hint`} className="hint">
        @ to mention someone · Ctrl+Enter to send
      </span>
      {options.length > 0 && (
        <ul role="listbox" id={listId} className="mention-list" aria-label="People to mention">
          {options.map((m, i) => (
            <li
              key={m.user_id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === choice}
              onMouseDown={(e) => {
                e.preventDefault()
                pick(m)
              }}
            >
              {m.name || m.email}
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {submit}
        </button>
        {children}
      </div>
    </form>
  )
}
