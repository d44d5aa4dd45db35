/** @jsxImportSource solid-js */
import { useClientDocument, useQuery, useStore, useSyncStatus } from '@cairn/solid'
import { For, Show } from 'solid-js'
import { activeCount$, completedCount$, createTodo, events, filters, tables, visibleTodos$ } from '../schema.ts'

export function App() {
  const store = useStore()
  const todos = useQuery(visibleTodos$)
  const active = useQuery(activeCount$)
  const completed = useQuery(completedCount$)
  const status = useSyncStatus()
  const [ui, setUi] = useClientDocument(tables.ui)

  const add = (event: KeyboardEvent) => {
    const text = ui().newTodoText.trim()
    if (event.key === 'Enter' && text !== '') store.commit(createTodo(text), tables.ui.set({ newTodoText: '' }))
  }
  return (
    <section class="todoapp">
      <header>
        <h1>todos</h1>
        <input
          class="new-todo"
          placeholder="What needs to be done?"
          value={ui().newTodoText}
          onInput={(e) => setUi({ newTodoText: e.currentTarget.value })}
          onKeyDown={add}
        />
      </header>
      <ul class="todo-list">
        <For each={todos()}>
          {(todo) => (
            <li classList={{ completed: todo.completed }}>
              <input
                type="checkbox"
                checked={todo.completed}
                onChange={() => store.commit(events.todoToggled({ id: todo.id, completed: !todo.completed }))}
              />
              <label>{todo.text}</label>
              <button class="destroy" onClick={() => store.commit(events.todoDeleted({ id: todo.id }))} />
            </li>
          )}
        </For>
      </ul>
      <footer class="footer">
        <span class="todo-count">{active()} left</span>
        <ul class="filters">
          <For each={filters}>
            {(filter) => (
              <li>
                <a href={`#/${filter}`} classList={{ selected: ui().filter === filter }} onClick={() => setUi({ filter })}>
                  {filter}
                </a>
              </li>
            )}
          </For>
        </ul>
        <Show when={completed() > 0}>
          <button class="clear-completed" onClick={() => store.commit(events.completedCleared({}))}>
            Clear completed
          </button>
        </Show>
        <small>{status().pending} pending</small>
      </footer>
    </section>
  )
}
