export { makeNodeAdapter, type NodeAdapterOptions } from './node-adapter.ts'
