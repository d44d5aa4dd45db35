import { fireEvent, render } from '@testing-library/react'
import { it } from 'vitest'
import { todoScenario } from '../app-scenario.ts'
import { App } from './App.tsx'

it('react TodoMVC: add, complete, filter, clear', async () => {
  const view = render(<App />)
  await todoScenario({
    input: (el, value) => fireEvent.change(el, { target: { value } }),
    enter: (el) => fireEvent.keyDown(el, { key: 'Enter' }),
    click: (el) => fireEvent.click(el),
  })
  view.unmount()
})
