import { useEffect, useState, type FormEvent } from 'react'
import { EditorContent, useEditor, useEditorState, type Editor } from '@tiptap/react'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { api, ApiError, logout, nameOf, type Session } from '../api'
import { documentLink } from '../App'
import { useTitle } from '../title'
import { Header } from '../DocumentsPage'
import { AiPanel } from '../panels/AiPanel'
import { CommentsPanel, type NewAnchor } from '../panels/CommentsPanel'
import { CreditsPanel } from '../panels/CreditsPanel'
import { VersionsPanel } from '../panels/VersionsPanel'
import { WorkflowBar } from '../panels/WorkflowBar'
import { colourOf, useCollab, type Collab, type SaveState } from './collab'
import { CommentMarks } from './commentMarks'
import { flatIndex, plainText } from './text'
import { TabList } from '../Tabs'

/** The post and its per-platform variants: root fragments `post` and `post.<platform>`. */
export const FIELDS = [
  { field: 'post', label: 'Post', limit: 0 },
  { field: 'post.instagram', label: 'Instagram', limit: 2200 },
  { field: 'post.x', label: 'X', limit: 280 },
  { field: 'post.linkedin', label: 'LinkedIn', limit: 3000 },
  { field: 'post.facebook', label: 'Facebook', limit: 63206 },
  { field: 'post.tiktok', label: 'TikTok', limit: 2200 },
]

const SAVE_LABELS: Record<SaveState, string> = {
  connecting: 'Connecting…',
  saved: 'All changes saved',
  saving: 'Saving…',
  offline: 'Offline: edits are kept here and sent when you are back',
  reconnecting: 'Reconnecting…',
  closed: 'Not connected: edits are not saved',
}

type Panel = 'comments' | 'versions' | 'ai' | 'credits'

interface Props {
  docId: string
  session: Session
  /** Set when the session has ended under the open document. */
  onSignInAgain?: () => void
}

/**
 * A document's page: asked for first, so an unknown or foreign address says so instead of
 * opening an empty editor (nothing is ever created by visiting an address).
 */
export function EditorPage(props: Props) {
  const { docId, session } = props
  const [title, setTitle] = useState<string | null>(null)
  const [missing, setMissing] = useState('')
  useEffect(() => {
    api<{ title: string }>(`/documents/${docId}`)
      .then((info) => setTitle(info.title || docId))
      .catch((e: ApiError) =>
        setMissing(
          e.status === 404
            ? 'There is no such document in this workspace. It may have been deleted, or belong to another workspace: choose that one on your documents page.'
            : e.message,
        ),
      )
  }, [docId, session.accountId])
  useTitle(missing ? 'Not found' : (title ?? ''))
  if (missing)
    return (
      <>
        <Header session={session} />
        <main className="documents">
          <section className="card stack" data-testid="not-found">
            <h1>Document not found</h1>
            <p>{missing}</p>
            <a href="#/">Go to your documents</a>
          </section>
        </main>
      </>
    )
  if (title === null) return <p className="loading" role="status">Opening…</p>
  return <LiveDocument {...props} title={title} onTitle={setTitle} />
}

function LiveDocument({
  docId,
  session,
  onSignInAgain,
  title,
  onTitle,
}: Props & { title: string; onTitle: (t: string) => void }) {
  const { collab, save, closed, connection } = useCollab(docId, session, onSignInAgain !== undefined)
  const [field, setField] = useState('post')
  const [panel, setPanel] = useState<Panel>('comments')
  const [anchor, setAnchor] = useState<NewAnchor | null>(null)
  const [editor, setEditor] = useState<Editor | null>(null)
  // A connection closed for good takes no more edits: they could never be saved.
  const canWrite = ['owner', 'admin', 'editor'].includes(session.role) && !closed
  const canComment = canWrite || session.role === 'commenter'

  return (
    <>
      <Header session={session}>
        <DocTitle docId={docId} title={title} onTitle={onTitle} canWrite={canWrite} collab={collab} />
        <CopyLink link={`${location.origin}${location.pathname}${documentLink(session.accountId, docId)}`} />
        {collab && <Presence collab={collab} />}
        <span className={`save save-${save}`} role="status" aria-live="polite" data-testid="save-state">
          {SAVE_LABELS[save]}
        </span>
      </Header>
      {collab && (
        <WorkflowBar docId={docId} session={session} collab={collab} connection={connection} canAct={!closed} />
      )}
      <main className="editor-layout">
        <section className="editor-column" aria-label="Post editor">
          <TabList
            label="Post and platform variants"
            tabs={FIELDS.map((f) => ({ id: f.field, label: f.label }))}
            selected={field}
            onSelect={setField}
            idPrefix="tab"
            controls="field-panel"
          />
          <div id="field-panel" role="tabpanel" aria-labelledby={`tab-${field}`}>
            {collab ? (
              <FieldEditor
                key={field}
                collab={collab}
                field={field}
                session={session}
                editable={canWrite}
                onReady={setEditor}
                onComment={
                  canComment
                    ? (a) => {
                        setAnchor(a)
                        setPanel('comments')
                      }
                    : undefined
                }
              />
            ) : (
              <p>Opening…</p>
            )}
          </div>
          {closed && (
            <div className="notice" role="alert" data-testid="connection-closed">
              <p>
                {closed.message}{' '}
                {closed.code === 0
                  ? 'The post is read-only until you sign in again; what you typed is kept in this browser and sent then.'
                  : 'The post is read-only: nothing typed now could be saved.'}
              </p>
              {closed.signInAgain && (
                <button type="button" onClick={() => (onSignInAgain ? onSignInAgain() : logout())}>
                  Sign in again
                </button>
              )}
            </div>
          )}
          {!canWrite && !closed && (
            <p className="hint" data-testid="read-only">
              {session.role === 'commenter' ? 'You can comment but not edit.' : 'You can view but not edit.'}
            </p>
          )}
        </section>
        <aside className="side">
          <TabList<Panel>
            label="Side panels"
            tabs={[
              { id: 'comments', label: 'Comments' },
              { id: 'versions', label: 'Versions' },
              { id: 'ai', label: 'AI' },
              { id: 'credits', label: 'Credits' },
            ]}
            selected={panel}
            onSelect={setPanel}
            idPrefix="side"
            controls="side-panel"
          />
          <div id="side-panel" role="tabpanel" aria-labelledby={`side-${panel}`}>
            {collab && panel === 'comments' && (
              <CommentsPanel
                docId={docId}
                accountId={session.accountId}
                connection={connection}
                field={field}
                collab={collab}
                editor={editor}
                canComment={canComment}
                anchor={anchor}
                onAnchorUsed={() => setAnchor(null)}
              />
            )}
            {panel === 'versions' && (
              <VersionsPanel docId={docId} canWrite={canWrite} accountId={session.accountId} connection={connection} />
            )}
            {collab && panel === 'ai' && (
              <AiPanel docId={docId} field={field} collab={collab} canWrite={canWrite} connection={connection} />
            )}
            {panel === 'credits' && <CreditsPanel accountId={session.accountId} connection={connection} />}
          </div>
        </aside>
      </main>
    </>
  )
}

function FieldEditor({
  collab,
  field,
  session,
  editable,
  onReady,
  onComment,
}: {
  collab: Collab
  field: string
  session: Session
  editable: boolean
  onReady: (editor: Editor | null) => void
  onComment?: (a: NewAnchor) => void
}) {
  const editor = useEditor(
    {
      editable,
      extensions: [
        // The Yjs binding keeps its own history (undo only takes back this user's edits); the
        // schema is what a social post needs, so the text the server reads is plain lines.
        StarterKit.configure({
          undoRedo: false,
          heading: false,
          codeBlock: false,
          code: false,
          blockquote: false,
          horizontalRule: false,
          hardBreak: false,
          trailingNode: false,
        }),
        Collaboration.configure({ document: collab.doc, field }),
        CollaborationCaret.configure({
          provider: collab.provider,
          user: { name: nameOf(session), color: colourOf(session.userId) },
        }),
        CommentMarks,
      ],
      editorProps: {
        attributes: {
          class: 'prose',
          role: 'textbox',
          'aria-multiline': 'true',
          'aria-label': `${FIELDS.find((f) => f.field === field)?.label ?? field} text`,
          'data-field': field,
        },
      },
    },
    [collab, field],
  )
  useEffect(() => {
    onReady(editor)
    return () => onReady(null)
  }, [editor, onReady])
  // The role can change, and a connection can close for good, while the editor is open.
  useEffect(() => {
    if (editor && editor.isEditable !== editable) editor.setEditable(editable)
  }, [editor, editable])
  if (!editor) return null
  return (
    <>
      <Toolbar editor={editor} editable={editable} field={field} onComment={onComment} />
      <EditorContent editor={editor} className="editor" />
      <Counter editor={editor} field={field} collab={collab} />
    </>
  )
}

function Toolbar({
  editor,
  editable,
  field,
  onComment,
}: {
  editor: Editor
  editable: boolean
  field: string
  onComment?: (a: NewAnchor) => void
}) {
  const state = useEditorState({
    editor,
    selector: ({ editor: e }) => ({
      bold: e.isActive('bold'),
      italic: e.isActive('italic'),
      bullet: e.isActive('bulletList'),
      empty: e.state.selection.empty,
    }),
  })
  const comment = () => {
    const { from, to } = editor.state.selection
    const doc = editor.state.doc
    const index = flatIndex(doc, from)
    onComment?.({ field, index, length: flatIndex(doc, to) - index, quoted: doc.textBetween(from, to, '\n') })
  }
  return (
    <div role="toolbar" aria-label="Formatting" className="toolbar">
      {editable && (
        <>
          <button
            type="button"
            aria-pressed={state.bold}
            onClick={() => editor.chain().focus().toggleBold().run()}
            title="Bold (Ctrl+B)"
          >
            <b>B</b>
            <span className="visually-hidden">Bold</span>
          </button>
          <button
            type="button"
            aria-pressed={state.italic}
            onClick={() => editor.chain().focus().toggleItalic().run()}
            title="Italic (Ctrl+I)"
          >
            <i>I</i>
            <span className="visually-hidden">Italic</span>
          </button>
          <button
            type="button"
            aria-pressed={state.bullet}
            onClick={() => editor.chain().focus().toggleBulletList().run()}
          >
            • List
          </button>
          <button type="button" onClick={() => editor.chain().focus().undo().run()} title="Undo your last edit (Ctrl+Z)">
            <span aria-hidden="true">↶</span> <span className="wide-only">Undo</span>
            <span className="narrow-only visually-hidden">Undo</span>
          </button>
          <button type="button" onClick={() => editor.chain().focus().redo().run()} title="Redo (Ctrl+Shift+Z)">
            <span aria-hidden="true">↷</span> <span className="wide-only">Redo</span>
            <span className="narrow-only visually-hidden">Redo</span>
          </button>
        </>
      )}
      {onComment && (
        <button type="button" disabled={state.empty} onClick={comment}>
          Comment<span className="wide-only"> on selection</span>
          <span className="narrow-only visually-hidden"> on selection</span>
        </button>
      )}
    </div>
  )
}

/**
 * Characters and hashtags against the platform's limit. An empty variant sends the main post,
 * so that is what it counts. Screen readers hear only crossing the limit, not every keystroke.
 */
function Counter({ editor, field, collab }: { editor: Editor; field: string; collab: Collab }) {
  const own = useEditorState({
    editor,
    selector: ({ editor: e }) => e.state.doc.textBetween(0, e.state.doc.content.size, '\n'),
  })
  const main = useMainPost(collab, field !== 'post' && own.length === 0)
  const text = own.length === 0 && field !== 'post' ? main : own
  const limit = FIELDS.find((f) => f.field === field)?.limit ?? 0
  const chars = [...text].length
  const tags = (text.match(/#[\p{L}\p{N}_]+/gu) ?? []).length
  const over = limit > 0 && chars > limit
  const platform = FIELDS.find((f) => f.field === field)?.label
  return (
    <>
      <p className={over ? 'counter over' : 'counter'} data-testid="counter">
        {chars}
        {limit > 0 && ` / ${limit}`} characters · {tags} hashtags
        {field !== 'post' && own.length === 0 && ' · empty, so the main post goes out here (counted)'}
      </p>
      <p className="visually-hidden" role="status">
        {over ? `Over the ${platform} limit by ${chars - limit} characters` : ''}
      </p>
    </>
  )
}

/** The main post's text, kept current while `wanted`. */
function useMainPost(collab: Collab, wanted: boolean): string {
  const [text, setText] = useState('')
  useEffect(() => {
    if (!wanted) return
    const fragment = collab.doc.getXmlFragment('post')
    const update = () => setText(plainText(fragment))
    update()
    fragment.observeDeep(update)
    return () => fragment.unobserveDeep(update)
  }, [collab, wanted])
  return wanted ? text : ''
}

interface Peer {
  key: string
  name: string
  color: string
  role: string
  self: boolean
}

function Presence({ collab }: { collab: Collab }) {
  const [peers, setPeers] = useState<Peer[]>([])
  useEffect(() => {
    const awareness = collab.provider.awareness
    const update = () => {
      const seen = new Map<string, Peer>()
      awareness.getStates().forEach((state, clientId) => {
        const user = state.user as { name?: string; color?: string } | undefined
        if (!user?.name) return
        const creo = state.creo as { userId?: string; role?: string } | undefined
        const key = creo?.userId ?? user.name
        const self = clientId === awareness.clientID
        if (!seen.has(key) || self)
          seen.set(key, { key, name: user.name, color: user.color ?? '#4d5761', role: creo?.role ?? '', self })
      })
      setPeers([...seen.values()].sort((a, b) => Number(b.self) - Number(a.self)))
    }
    awareness.on('change', update)
    update()
    return () => awareness.off('change', update)
  }, [collab])
  return (
    <ul className="presence" aria-label="People here">
      {peers.map((p) => (
        <li
          key={p.key}
          className="avatar"
          style={{ background: p.color }}
          title={`${p.name}${p.self ? ' (you)' : ''}${p.role ? `, ${p.role}` : ''}`}
          data-name={p.name}
        >
          <span aria-hidden="true">{initials(p.name)}</span>
          <span className="visually-hidden">
            {p.name}
            {p.self ? ' (you)' : ''}
          </span>
        </li>
      ))}
    </ul>
  )
}

/** The title: a field for those who may write (saved on Enter or leaving it), a heading for the rest. */
function DocTitle({
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
function CopyLink({ link }: { link: string }) {
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

/** "Ana Lima" → "AL", "creo AI" → "CA", "bob" → "BO". */
function initials(name: string): string {
  const words = name.trim().split(/\s+/)
  const letters = words.length > 1 ? words[0][0] + words[1][0] : name.slice(0, 2)
  return letters.toUpperCase()
}
