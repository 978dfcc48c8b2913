/** A date and time people read at a glance, in their own locale: "2 Dec 2026, 10:41". */
export function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
