/**
 * What each route takes and answers, as types made from the contract's schemas (`z.input` of a
 * request, `z.output` of an answer). Types only: nothing here exists at run time, so the CLI and
 * the page use the schemas without loading zod.
 */
import type { z } from 'zod';
import type { Operations } from '../api-operations.js';
import type { PathParamNames, PathParams, RouteName, RouteOf } from '../api-routes.js';

type Answers<R extends RouteName> = Operations[R]['answers'];
type SuccessStatus<R extends RouteName> = Extract<keyof Answers<R>, 200 | 201 | 202 | 204>;
type JsonOf<A> = A extends { kind: 'json'; schema: infer S extends z.ZodType } ? z.output<S> : A extends { kind: 'empty' } ? undefined : never;

/** What a route answers when it succeeds (a union where a request may ask for a dry run). */
export type ResultOf<R extends RouteName> = R extends RouteName ? { [S in SuccessStatus<R>]: JsonOf<Answers<R>[S]> }[SuccessStatus<R>] : never;

/** The JSON body a route takes, as a client writes it. */
export type BodyOf<R extends RouteName> = Operations[R] extends { body: infer S extends z.ZodType } ? z.input<S> : never;

/** A route's query: its names as the contract gives them; values are sent as text. */
export type QueryOf<R extends RouteName> = Operations[R] extends { query: infer S extends z.ZodType } ? { [K in keyof z.input<S>]?: string | number | boolean } : never;

/** Routes that answer a job's server-sent events, and the job each event carries. */
export type JobEventsRoute = { [R in RouteName]: Answers<R> extends { 200: { kind: 'events' } } ? R : never }[RouteName];
export type JobOf<R extends JobEventsRoute> = Answers<R>[200] extends { schema: infer S extends z.ZodType } ? z.output<S> : never;

/** Routes that answer a page (`{ total, items }`), and the items of their pages. */
export type ItemOf<R extends RouteName> = ResultOf<R> extends { total: number; items: (infer T)[] } ? T : never;
export type PagedRoute = { [R in RouteName]: [ItemOf<R>] extends [never] ? never : R }[RouteName];

// A route without parameters ignores any it is given, so one input can serve a route with and one without.
type ParamsPart<R extends RouteName> = [PathParamNames<RouteOf<R>['path']>] extends [never] ? { params?: object } : { params: PathParams<R> };
// Optional: a route that also takes a form (a restore's upload) is sent a raw body instead.
type BodyPart<R extends RouteName> = [BodyOf<R>] extends [never] ? { body?: undefined } : { body?: BodyOf<R> };
type QueryPart<R extends RouteName> = [QueryOf<R>] extends [never] ? { query?: undefined } : { query?: QueryOf<R> };

/** Everything a call of a route is given; for a union of routes, the input of any one of them. */
export type CallInput<R extends RouteName> = R extends RouteName
  ? ParamsPart<R> & BodyPart<R> & QueryPart<R> & { headers?: Record<string, string>; signal?: AbortSignal }
  : never;
