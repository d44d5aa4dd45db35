import { screen, waitFor } from '@testing-library/dom'
import { expect } from 'vitest'

/** How a framework's testing library fires events (each flushes its framework's updates). */
export interface Fire {
  input(element: Element, value: string): unknown
  enter(element: Element): unknown
  click(element: Element): unknown
}

/** One TodoMVC session, the same for every example: add, complete, filter, clear. */
export async function todoScenario(fire: Fire): Promise<void> {
  const input = await screen.findByPlaceholderText('What needs to be done?', undefined, { timeout: 10_000 })
  await fire.input(input, 'Buy milk')
  // Like a user, press Enter once the typed text shows. React subscribes in a passive effect, which
  // after a Suspense retry may still be queued when the input first appears; the subscription then
  // catches up on the draft, and only that render gives the Enter handler the typed text.
  await waitFor(() => expect((input as HTMLInputElement).value).toBe('Buy milk'))
  await fire.enter(input)
  expect(screen.getByText('Buy milk').tagName).toBe('LABEL')
  expect((input as HTMLInputElement).value).toBe('') // the draft (a client document) was cleared
  expect(screen.getByText('1 left')).toBeTruthy()

  await fire.click(screen.getByRole('checkbox'))
  expect(screen.getByText('0 left')).toBeTruthy()
  await fire.click(screen.getByText('active'))
  expect(screen.queryByText('Buy milk')).toBeNull()
  await fire.click(screen.getByText('all'))
  await fire.click(screen.getByText('Clear completed'))
  expect([screen.queryByText('Buy milk'), screen.queryByText('Clear completed')]).toEqual([null, null])
}
