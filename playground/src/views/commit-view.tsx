import { formatSeqNum, InvalidEventArgsError, type AnyEventDef, type Store } from '@cairn/core'
import { useId, useMemo, useState, type FormEvent } from 'react'
import { argsFromForm, eventJsonSchema, formFields, initialValue, parseJsonOr, randomId, type Field } from '../json-schema.ts'

/** Commit: a form per event, built from the event's schema, with the validator's errors at each field. */
export function CommitView(props: { readonly store: Store; readonly clientName: string }) {
  const events = useMemo(() => [...props.store.schema.eventsByName.values()], [props.store.schema])
  const [selected, setSelected] = useState(0)
  const def = events[Math.min(selected, events.length - 1)]
  if (def === undefined) return <p className="empty">This schema has no events.</p>
  return (
    <div className="commit">
      <nav className="event-list" aria-label="Events">
        {events.map((e, i) => (
          <button
            key={e.eventName}
            className={e === def ? 'active' : ''}
            aria-pressed={e === def}
            onClick={() => setSelected(i)}
            data-testid={`event-${e.eventName}`}
          >
            <span className="mono">{e.eventName}</span>
            {e.clientOnly ? <span className="tag">client-only</span> : null}
          </button>
        ))}
      </nav>
      <EventForm key={`${def.eventName}`} def={def} store={props.store} clientName={props.clientName} />
    </div>
  )
}

export function EventForm(props: { readonly def: AnyEventDef; readonly store: Store; readonly clientName: string }) {
  const { def, store } = props
  const fields = useMemo(() => formFields(eventJsonSchema(def)), [def])
  const [values, setValues] = useState<Record<string, string>>(() => initialValues(fields))
  const [json, setJson] = useState('{}')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>()

  const submit = (e: FormEvent) => {
    e.preventDefault()
    const args = fields === undefined ? parseJsonOr(json) : argsFromForm(fields, values)
    let input
    try {
      input = def(args)
    } catch (error) {
      if (error instanceof InvalidEventArgsError) {
        const byField: Record<string, string> = {}
        for (const issue of error.issues) {
          const field = fields?.find((f) => issue.path === f.name || issue.path.startsWith(`${f.name}.`))?.name ?? ''
          const text = field !== '' && issue.path !== field ? `${issue.path.slice(field.length + 1)}: ${issue.message}` : issue.message
          byField[field] = byField[field] === undefined ? text : `${byField[field]}; ${text}`
        }
        setErrors(byField)
        setResult(undefined)
        return
      }
      setErrors({ '': (error as Error)?.message ?? String(error) })
      return
    }
    setErrors({})
    try {
      const handle = store.commit(input)
      setResult({ ok: true, text: `Committed ${def.eventName} as ${handle.seqNums.map(formatSeqNum).join(', ')} on client ${props.clientName}` })
      if (fields?.some((f) => f.name === 'id')) setValues((v) => ({ ...v, id: randomId() }))
    } catch (error) {
      setResult({ ok: false, text: (error as Error)?.message ?? String(error) })
    }
  }

  return (
    <form className="event-form" onSubmit={submit} noValidate data-testid="event-form">
      <h3 className="mono">{def.eventName}</h3>
      <p className="muted small">
        {def.clientOnly ? 'Client-only: stays on this client.' : 'Synced: goes to the server, which fixes its order.'}
        {fields === undefined ? ' Its validator cannot describe itself as JSON Schema: write the args as JSON.' : ''}
      </p>
      {fields === undefined ? (
        <label className="field">
          <span>args (JSON)</span>
          <textarea className="mono" rows={6} value={json} onChange={(e) => setJson(e.target.value)} data-testid="field-json" />
          {errors[''] !== undefined ? <FieldError name="" text={errors['']} /> : null}
        </label>
      ) : (
        fields.map((f) => (
          <FieldInput
            key={f.name}
            field={f}
            value={values[f.name] ?? ''}
            error={errors[f.name]}
            onChange={(v) => setValues((old) => ({ ...old, [f.name]: v }))}
          />
        ))
      )}
      {fields !== undefined && errors[''] !== undefined ? <FieldError name="" text={errors['']} /> : null}
      <div className="row">
        <button type="submit" className="primary" data-testid="commit">
          Commit <kbd>Enter</kbd>
        </button>
        {result !== undefined ? (
          <span className={result.ok ? 'ok small' : 'error small'} role="status" data-testid="commit-result">
            {result.text}
          </span>
        ) : null}
      </div>
    </form>
  )
}

function initialValues(fields: readonly Field[] | undefined): Record<string, string> {
  return Object.fromEntries((fields ?? []).map((f) => [f.name, initialValue(f)]))
}

function FieldInput(props: { readonly field: Field; readonly value: string; readonly error: string | undefined; readonly onChange: (v: string) => void }) {
  const { field, value, error, onChange } = props
  const id = `${useId()}-${field.name}`
  const common = { id, 'data-testid': `field-${field.name}`, 'aria-invalid': error !== undefined, 'aria-describedby': error === undefined ? undefined : `${id}-error` }
  let input
  switch (field.kind) {
    case 'boolean':
      input = <input type="checkbox" {...common} checked={value === 'true'} onChange={(e) => onChange(String(e.target.checked))} />
      break
    case 'enum':
      input = (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          {field.options.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      )
      break
    case 'json':
      input = <textarea {...common} className="mono" rows={3} value={value} onChange={(e) => onChange(e.target.value)} placeholder="JSON" />
      break
    default:
      input = (
        <input
          {...common}
          type={field.kind === 'text' ? 'text' : 'number'}
          step={field.kind === 'integer' ? 1 : 'any'}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          autoComplete="off"
        />
      )
  }
  return (
    <div className={`field${field.kind === 'boolean' ? ' inline' : ''}`}>
      <label htmlFor={id}>
        <span className="mono">{field.name}</span>
        <span className="muted small">
          {' '}
          {field.kind}
          {field.required ? '' : ' · optional'}
        </span>
      </label>
      {input}
      {error !== undefined ? <FieldError name={field.name} text={error} id={`${id}-error`} /> : null}
    </div>
  )
}

function FieldError(props: { readonly name: string; readonly text: string; readonly id?: string }) {
  return (
    <span className="field-error" id={props.id} data-testid={props.name === '' ? 'form-error' : `error-${props.name}`} role="alert">
      {props.text}
    </span>
  )
}
