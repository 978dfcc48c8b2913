import { useCallback, useEffect, useRef, useState, type ReactElement } from 'react'

interface Question {
  message: string
  confirm: string
  answer: (yes: boolean) => void
}

/**
 * An in-page confirmation (a modal <dialog>: focus stays inside, Escape cancels), instead of
 * the browser's confirm box, which blocks the page, cannot be styled and reads poorly to
 * screen readers. `ask` resolves with the person's answer.
 */
export function useConfirm(): [ReactElement | null, (message: string, confirm: string) => Promise<boolean>] {
  const [question, setQuestion] = useState<Question | null>(null)
  const ask = useCallback(
    (message: string, confirm: string) =>
      new Promise<boolean>((answer) => setQuestion({ message, confirm, answer })),
    [],
  )
  const element = question && (
    <ConfirmDialog
      question={question}
      onDone={(yes) => {
        question.answer(yes)
        setQuestion(null)
      }}
    />
  )
  return [element, ask]
}

function ConfirmDialog({ question, onDone }: { question: Question; onDone: (yes: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = dialog.current
    d?.showModal()
    return () => d?.close()
  }, [])
  return (
    <dialog
      ref={dialog}
      className="confirm card stack"
      aria-labelledby="confirm-message"
      onCancel={(e) => {
        e.preventDefault()
        onDone(false)
      }}
    >
      <p id="confirm-message">{question.message}</p>
      <div className="row">
        <button type="button" className="primary" onClick={() => onDone(true)}>
          {question.confirm}
        </button>
        <button type="button" autoFocus onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </dialog>
  )
}
