import { makeInMemoryAdapter } from '@cairn/core'
import { StoreProvider, useClientDocument, useQuery, useStore, useSyncStatus } from '@cairn/react'
import { Suspense } from 'react'
import { activeCount$, completedCount$, createTodo, events, filters, schema, tables, visibleTodos$ } from '../schema.ts'

const options = { schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' }

export function App() {
  return (
    <Suspense fallback={<p>Loading…</p>}>
      <Root />
    </Suspense>
  )
}

function Root() {
  const store = useStore(options) // suspends until the store is ready
  return (
    <StoreProvider store={store}>
      <section className="todoapp">
        <Header />
        <TodoList />
        <Footer />
      </section>
    </StoreProvider>
  )
}

function Header() {
  const store = useStore()
  const [ui, setUi] = useClientDocument(tables.ui)
  return (
    <header>
      <h1>todos</h1>
      <input
        className="new-todo"
        placeholder="What needs to be done?"
        value={ui.newTodoText}
        onChange={(e) => setUi({ newTodoText: e.target.value })}
        onKeyDown={(e) => {
          if (e.key !== 'Enter' || ui.newTodoText.trim() === '') return
          store.commit(createTodo(ui.newTodoText.trim()), tables.ui.set({ newTodoText: '' }))
        }}
      />
    </header>
  )
}

function TodoList() {
  const store = useStore()
  const todos = useQuery(visibleTodos$)
  return (
    <ul className="todo-list">
      {todos.map((todo) => (
        <li key={todo.id} className={todo.completed ? 'completed' : ''}>
          <input
            type="checkbox"
            checked={todo.completed}
            onChange={() => store.commit(events.todoToggled({ id: todo.id, completed: !todo.completed }))}
          />
          <label>{todo.text}</label>
          <button className="destroy" onClick={() => store.commit(events.todoDeleted({ id: todo.id }))} />
        </li>
      ))}
    </ul>
  )
}

function Footer() {
  const store = useStore()
  const active = useQuery(activeCount$)
  const completed = useQuery(completedCount$)
  const [ui, setUi] = useClientDocument(tables.ui)
  const { pending } = useSyncStatus()
  return (
    <footer className="footer">
      <span className="todo-count">{active} left</span>
      <ul className="filters">
        {filters.map((filter) => (
          <li key={filter}>
            <a href={`#/${filter}`} className={ui.filter === filter ? 'selected' : ''} onClick={() => setUi({ filter })}>
              {filter}
            </a>
          </li>
        ))}
      </ul>
      {completed > 0 && (
        <button className="clear-completed" onClick={() => store.commit(events.completedCleared({}))}>
          Clear completed
        </button>
      )}
      <small>{pending} pending</small>
    </footer>
  )
}
