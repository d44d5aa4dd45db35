import { Component, type ReactNode } from 'react'

interface Props {
  readonly name: string
  /** The store the view shows: another one (a new run, a reset client) draws the view again. */
  readonly store: unknown
  readonly children: ReactNode
}

/**
 * Keeps a view's render error inside its panel: the message and a button to draw the view again,
 * instead of React unmounting the whole playground (a blank page). The error goes to the console too.
 */
export class ViewBoundary extends Component<Props, { readonly error: Error | undefined }> {
  override state: { readonly error: Error | undefined } = { error: undefined }

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) }
  }

  override componentDidUpdate(previous: Props): void {
    if (previous.store !== this.props.store && this.state.error !== undefined) this.setState({ error: undefined })
  }

  override componentDidCatch(error: unknown): void {
    console.error(`The ${this.props.name} view failed:`, error)
  }

  override render(): ReactNode {
    const { error } = this.state
    if (error === undefined) return this.props.children
    return (
      <div className="view-error" role="alert" data-testid="view-error">
        <p>
          The {this.props.name} view failed: {error.message}
        </p>
        <button onClick={() => this.setState({ error: undefined })}>Show it again</button>
      </div>
    )
  }
}
