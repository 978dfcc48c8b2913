import { useEffect, useState } from 'react'
import { EditorContent, useEditor, type Editor } from '@tiptap/react'
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
import { AnalyticsPanel } from '../panels/AnalyticsPanel'
import { MediaPanel } from '../panels/MediaPanel'
import { BrandPanel } from '../panels/BrandPanel'
import { VersionsPanel } from '../panels/VersionsPanel'
import { WorkflowBar } from '../panels/WorkflowBar'
import { colourOf, useCollab, type Collab, type SaveState } from './collab'
import { CommentMarks } from './commentMarks'
import { Counter } from './Counter'
import { CopyLink, DocTitle, DuplicateButton } from './DocTitle'
import { FIELDS } from './fields'
import { Presence } from './Presence'
import { addMedium, PostMedia } from './PostMedia'
import { Toolbar } from './Toolbar'
import { TabList } from '../Tabs'

const SAVE_LABELS: Record<SaveState, string> = {
  connecting: 'Connecting…',
  saved: 'All changes saved',
  saving: 'Saving…',
  offline: 'Offline: edits are kept here and sent when you are back',
  reconnecting: 'Reconnecting…',
  closed: 'Not connected: edits are not saved',
}

type Panel = 'comments' | 'media' | 'brand' | 'versions' | 'ai' | 'credits' | 'analytics'

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
        {canWrite && (
          <DuplicateButton docId={docId} onMade={(copy) => (location.hash = documentLink(session.accountId, copy))} />
        )}
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
          {collab && <PostMedia collab={collab} accountId={session.accountId} canWrite={canWrite} />}
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
              { id: 'media', label: 'Media' },
              { id: 'brand', label: 'Brand' },
              { id: 'versions', label: 'Versions' },
              { id: 'ai', label: 'AI' },
              { id: 'credits', label: 'Credits' },
              { id: 'analytics', label: 'Analytics' },
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
            {collab && panel === 'media' && (
              <MediaPanel accountId={session.accountId} canWrite={canWrite} onAdd={(m) => addMedium(collab, m.media_id)} />
            )}
            {panel === 'brand' && (
              <BrandPanel accountId={session.accountId} canManage={['owner', 'admin'].includes(session.role)} />
            )}
            {panel === 'versions' && (
              <VersionsPanel docId={docId} canWrite={canWrite} accountId={session.accountId} connection={connection} />
            )}
            {collab && panel === 'ai' && (
              <AiPanel
                docId={docId}
                field={field}
                collab={collab}
                canWrite={canWrite}
                connection={connection}
                editor={editor}
              />
            )}
            {panel === 'credits' && <CreditsPanel accountId={session.accountId} connection={connection} />}
            {panel === 'analytics' && (
              <AnalyticsPanel docId={docId} accountId={session.accountId} connection={connection} />
            )}
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
