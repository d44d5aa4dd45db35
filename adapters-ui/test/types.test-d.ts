import type { SyncStatus } from '@cairn/core'
import * as react from '@cairn/react'
import * as solid from '@cairn/solid'
import * as svelte from '@cairn/svelte'
import * as vue from '@cairn/vue'
import type { Accessor } from 'solid-js'
import { describe, expectTypeOf, it } from 'vitest'
import type { Ref, WritableComputedRef } from 'vue'
import { makeStore, tables, texts$ } from './fixtures.ts'

type Texts = { text: string }[]
type Ui = { filter: 'all' | 'done'; search: string }
declare const store: Awaited<ReturnType<typeof makeStore>>

describe('query results are typed by the definition', () => {
  it('in every adapter', () => {
    expectTypeOf(react.useQuery(texts$)).toEqualTypeOf<Texts>()
    expectTypeOf(vue.useQuery(texts$)).toEqualTypeOf<Readonly<Ref<Texts>>>()
    expectTypeOf(svelte.queryStore(store, texts$).current).toEqualTypeOf<Texts>()
    expectTypeOf(solid.useQuery(texts$)).toEqualTypeOf<Accessor<Texts>>()
    expectTypeOf(react.useSyncStatus()).toEqualTypeOf<SyncStatus>()
  })
})

describe('client documents are typed by their schema', () => {
  it('reads the value and refuses values outside the schema', () => {
    const [ui, setUi] = react.useClientDocument(tables.ui)
    expectTypeOf(ui).toEqualTypeOf<Ui>()
    setUi((current) => ({ filter: current.filter === 'all' ? 'done' : 'all' }))
    // @ts-expect-error 'nope' is not a filter
    setUi({ filter: 'nope' })
    // @ts-expect-error unknown field
    solid.useClientDocument(tables.ui)[1]({ colour: 'red' })
    expectTypeOf(vue.useClientDocument(tables.ui).filter).toEqualTypeOf<WritableComputedRef<Ui['filter']>>()
    // @ts-expect-error 'nope' is not a filter
    svelte.clientDocumentStore(store, tables.ui).set({ filter: 'nope' })
  })
})
