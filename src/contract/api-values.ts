/**
 * Values of the contract that clients need at run time: plain constants with no zod, so the CLI
 * and the page import them at no cost. The schemas use the same constants.
 */

/** Lists page with `top` up to this, 100 when left out (docs/api.md, "Lists"). */
export const PAGE_MAX = 1000;
export const PAGE_DEFAULT = 100;

/** The roles a user may have on an app. */
export const APP_ROLES = ['Owner', 'Developer', 'Editor', 'Reader'] as const;
export type AppRole = (typeof APP_ROLES)[number];

/** Which assets a partial backup holds: all, those its contents reference, or none. */
export const ASSET_CHOICES = ['all', 'referenced', 'none'] as const;
export type AssetChoice = (typeof ASSET_CHOICES)[number];

/** Ids a rollback's report lists per kind and change; the counts say how many there are in all. */
export const LISTED_PER_KIND = 1000;

/** The retention rules of a backup policy, in the order they are shown. */
export const KEEP_RULES = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;
export type KeepRule = (typeof KEEP_RULES)[number];

/** A diff's pages hold up to this many changes, 100 when left out. */
export const DIFF_PAGE_MAX = 1000;
export const DIFF_PAGE_DEFAULT = 100;
/** Longest JSON text a diff shows a value with; longer ones are cut and marked so. */
export const DIFF_VALUE_MAX = 200;
