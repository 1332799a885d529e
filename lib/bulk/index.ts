export { enrollMany, BulkJob, isTransient } from './engine';
export type { BulkOptions, BulkResult } from './engine';
export { readItems } from './items';
export type { BulkItem, BulkOperation, KeySpec, ItemSource, ReadItemsOptions } from './items';
export type { FileNames, ManifestLine } from './output';
export type { BulkProgress, BulkSummary } from './progress';
