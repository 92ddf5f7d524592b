/**
 * A restore's steps, in order; its log names them, tests inject failures at each (JobFaults), and
 * the backup handlers announce the ones they perform (`assets`, `owner`).
 */
export const RESTORE_STEPS = ['fetch', 'verify', 'reserve', 'users', 'events', 'assets', 'rebuild', 'owner', 'commit'] as const;
export type RestoreStep = (typeof RESTORE_STEPS)[number];
