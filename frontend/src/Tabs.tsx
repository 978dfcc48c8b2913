import { useEffect, useRef, type KeyboardEvent } from 'react'

export interface Tab<T extends string> {
  id: T
  label: string
}

/**
 * A WAI-ARIA tab list: one tab in the Tab order (the selected one), arrow keys, Home and End
 * move between tabs and select them, as screen-reader and keyboard users expect.
 */
export function TabList<T extends string>({
  label,
  tabs,
  selected,
  onSelect,
  idPrefix,
  controls,
}: {
  label: string
  tabs: Tab<T>[]
  selected: T
  onSelect: (id: T) => void
  idPrefix: string
  controls: string
}) {
  const buttons = useRef<(HTMLButtonElement | null)[]>([])
  const moved = useRef(false)
  const current = tabs.findIndex((t) => t.id === selected)
  useEffect(() => {
    if (moved.current) buttons.current[current]?.focus()
    moved.current = false
  }, [current])

  function onKeyDown(e: KeyboardEvent) {
    const last = tabs.length - 1
    const next = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: last }[e.key]
    if (next === undefined) return
    e.preventDefault()
    moved.current = true
    onSelect(tabs[(next + tabs.length) % tabs.length].id)
  }

  return (
    <div role="tablist" aria-label={label} className="tabs" onKeyDown={onKeyDown}>
      {tabs.map((t, i) => (
        <button
          key={t.id}
          ref={(el) => {
            buttons.current[i] = el
          }}
          type="button"
          role="tab"
          id={`${idPrefix}-${t.id}`}
          aria-selected={t.id === selected}
          aria-controls={controls}
          tabIndex={t.id === selected ? 0 : -1}
          onClick={() => onSelect(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  )
}
