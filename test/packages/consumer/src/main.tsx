import { makePersistedAdapter } from '@cairn/adapter-web'
import { StoreProvider, useQuery, useStore } from '@cairn/react'
import { StrictMode, Suspense, useState, type FormEvent } from 'react'
import { createRoot } from 'react-dom/client'
import CairnWorker from './cairn.worker?worker'
import { events, schema, todos$ } from './schema'

const options = { schema, adapter: makePersistedAdapter({ worker: CairnWorker, storage: { type: 'opfs' } }), storeId: 'my-app' }

function Todos() {
  const store = useStore()
  const todos = useQuery(todos$) // re-renders when the rows change
  const [text, setText] = useState('')
  const add = (e: FormEvent) => {
    e.preventDefault()
    store.commit(events.todoCreated({ id: crypto.randomUUID(), text }))
    setText('')
  }
  return (
    <form onSubmit={add}>
      <input value={text} onChange={(e) => setText(e.target.value)} placeholder="What needs to be done?" />
      <ul>
        {todos.map((t) => (
          <li key={t.id}>{t.text}</li>
        ))}
      </ul>
    </form>
  )
}

function App() {
  const store = useStore(options) // creates the store; suspends until it is ready
  return (
    <StoreProvider store={store}>
      <Todos />
    </StoreProvider>
  )
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Suspense fallback={<p>Loading…</p>}>
      <App />
    </Suspense>
  </StrictMode>,
)
