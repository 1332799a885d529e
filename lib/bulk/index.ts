export { enrollMany, BulkJob } from './engine';
export type { BulkResult } from './engine';
export { isTransient } from './options';
export type { BulkOptions } from './options';
export { readItems } from './items';
export type { BulkItem, BulkOperation, KeySpec, ItemSource, ReadItemsOptions } from './items';
export type { FileNames, ManifestLine } from './output';
export type { BulkProgress, BulkSummary } from './progress';
