// Chat: channels, messages and reactions; a message's text can be edited, never lost.
import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  channelCreated: Events.synced({ name: 'v1.ChannelCreated', schema: z.object({ id: z.string(), name: z.string().min(1).max(40) }) }),
  messageSent: Events.synced({
    name: 'v1.MessageSent',
    schema: z.object({ id: z.string(), channelId: z.string(), author: z.string().min(1), text: z.string().min(1).max(2000) }),
  }),
  messageEdited: Events.synced({ name: 'v1.MessageEdited', schema: z.object({ id: z.string(), text: z.string().min(1).max(2000) }) }),
  reactionAdded: Events.synced({
    name: 'v1.ReactionAdded',
    schema: z.object({ messageId: z.string(), author: z.string(), emoji: z.enum(['👍', '🎉', '❤️', '👀']) }),
  }),
}

export const tables = {
  channels: State.SQLite.table({
    name: 'channels',
    columns: { id: State.SQLite.text({ primaryKey: true }), name: State.SQLite.text() },
  }),
  messages: State.SQLite.table({
    name: 'messages',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      channelId: State.SQLite.text(),
      author: State.SQLite.text(),
      text: State.SQLite.text(),
      edited: State.SQLite.boolean({ default: false }),
      seq: State.SQLite.integer(),
    },
    indexes: [{ name: 'messages_channel', columns: ['channelId', 'seq'] }],
  }),
  reactions: State.SQLite.table({
    name: 'reactions',
    columns: { messageId: State.SQLite.text(), author: State.SQLite.text(), emoji: State.SQLite.text() },
    primaryKey: ['messageId', 'author', 'emoji'],
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.ChannelCreated': ({ id, name }) => tables.channels.insert({ id, name }).onConflict('id', 'ignore'),
  // the server's order is the chat's order: every client sorts messages the same way
  'v1.MessageSent': ({ id, channelId, author, text }, ctx) =>
    tables.messages.insert({ id, channelId, author, text, seq: ctx.event.seqNum.global }),
  'v1.MessageEdited': ({ id, text }) => tables.messages.update({ text, edited: true }).where({ id }),
  'v1.ReactionAdded': (r) => tables.reactions.insert(r).onConflict(['messageId', 'author', 'emoji'], 'ignore'),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
