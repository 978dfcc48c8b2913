/** A line that says what went wrong, announced at once; nothing when there is nothing to say. */
export function Alert({ text }: { text: string }) {
  return text ? (
    <p role="alert" className="error">
      {text}
    </p>
  ) : null
}
