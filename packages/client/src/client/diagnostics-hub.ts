import type { DiagnosticEvent, DiagnosticListener } from '../diagnostics.js'

/** The diagnostics listeners of one client. A listener's failure is its own. */
export class DiagnosticsHub {
  readonly #listeners = new Set<DiagnosticListener>()

  add(listener: DiagnosticListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Whether anyone listens (so hot paths can skip building events). */
  get active(): boolean {
    return this.#listeners.size > 0
  }

  emit(e: DiagnosticEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e)
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  clear(): void {
    this.#listeners.clear()
  }
}
