// A small issue tracker: issues with a status, labels (many-to-many) and comments.
import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  issueOpened: Events.synced({
    name: 'v1.IssueOpened',
    schema: z.object({ id: z.string(), title: z.string().min(3, 'A title of 3 characters or more'), body: z.string() }),
  }),
  issueStatusChanged: Events.synced({
    name: 'v1.IssueStatusChanged',
    schema: z.object({ id: z.string(), status: z.enum(['open', 'in-progress', 'closed']) }),
  }),
  labelCreated: Events.synced({
    name: 'v1.LabelCreated',
    schema: z.object({ name: z.string().regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and -'), color: z.string() }),
  }),
  issueLabeled: Events.synced({ name: 'v1.IssueLabeled', schema: z.object({ issueId: z.string(), label: z.string() }) }),
  issueUnlabeled: Events.synced({ name: 'v1.IssueUnlabeled', schema: z.object({ issueId: z.string(), label: z.string() }) }),
  commentAdded: Events.synced({
    name: 'v1.CommentAdded',
    schema: z.object({ id: z.string(), issueId: z.string(), author: z.string().min(1), text: z.string().min(1) }),
  }),
}

export const tables = {
  issues: State.SQLite.table({
    name: 'issues',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      title: State.SQLite.text(),
      body: State.SQLite.text({ default: '' }),
      status: State.SQLite.text({ default: 'open' }),
      number: State.SQLite.integer(),
    },
    indexes: [{ name: 'issues_status', columns: ['status'] }],
  }),
  labels: State.SQLite.table({
    name: 'labels',
    columns: { name: State.SQLite.text({ primaryKey: true }), color: State.SQLite.text() },
  }),
  issueLabels: State.SQLite.table({
    name: 'issue_labels',
    columns: { issueId: State.SQLite.text(), label: State.SQLite.text() },
    primaryKey: ['issueId', 'label'],
  }),
  comments: State.SQLite.table({
    name: 'comments',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      issueId: State.SQLite.text(),
      author: State.SQLite.text(),
      text: State.SQLite.text(),
    },
    indexes: [{ name: 'comments_issue', columns: ['issueId'] }],
  }),
}

const materializers = State.SQLite.materializers(events, {
  // issue numbers follow the server's order, so #1, #2… are the same on every client
  'v1.IssueOpened': ({ id, title, body }, ctx) => {
    const [last] = ctx.query(tables.issues.select('number').orderBy('number', 'desc').limit(1))
    return tables.issues.insert({ id, title, body, number: (last?.number ?? 0) + 1 })
  },
  'v1.IssueStatusChanged': ({ id, status }) => tables.issues.update({ status }).where({ id }),
  'v1.LabelCreated': ({ name, color }) => tables.labels.insert({ name, color }).onConflict('name', 'replace'),
  'v1.IssueLabeled': ({ issueId, label }) => tables.issueLabels.insert({ issueId, label }).onConflict(['issueId', 'label'], 'ignore'),
  'v1.IssueUnlabeled': ({ issueId, label }) => tables.issueLabels.delete().where({ issueId, label }),
  'v1.CommentAdded': (c) => tables.comments.insert(c),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
