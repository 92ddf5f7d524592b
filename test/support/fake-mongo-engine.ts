import { Aggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Query } from 'mingo/query';
import { update as applyOperators } from 'mingo/updater';
import { mongo } from 'mongoose';

/**
 * What the MongoDB stand-in (fake-mongo.ts) evaluates, and how: filters, projections, sorts,
 * aggregation expressions and update operators by mingo (MongoDB's query language in JavaScript),
 * with what mingo leaves out or does otherwise done here, as the server documents it:
 *
 * - `$$NOW` is the stand-in's own clock (ServerClock), one value for a whole operation: every
 *   `$$NOW` of the operation is bound to that value before mingo sees it (mingo would read the
 *   process's `Date.now()`, which is the client's clock and which tests fake).
 * - The comparison expressions (`$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$cmp`) compare values
 *   of different types by the BSON order (missing < null < numbers < strings < objects < arrays <
 *   binary < ObjectId < booleans < dates < regular expressions); mingo's answer false.
 * - Update pipelines take only the stages the server allows in them; `$setOnInsert` and
 *   `$currentDate` (mingo has neither with the server's meaning) are done here; conflicting paths
 *   and a changed `_id` are the server's errors; an upsert starts from the filter's equality fields.
 *
 * Whatever is not implemented throws `NotImplementedByStandIn`, naming it: a test can never pass
 * because the stand-in silently ignored part of a request.
 */

export type Doc = Record<string, unknown>;

export class NotImplementedByStandIn extends Error {
  constructor(what: string) {
    super(`The MongoDB stand-in does not implement ${what}`);
    this.name = 'NotImplementedByStandIn';
  }
}

export function notImplemented(what: string): never {
  throw new NotImplementedByStandIn(what);
}

/** An error as the driver raises it from a server's reply (`code`, `codeName`, `errmsg` as message). */
export function serverError(code: number, codeName: string, errmsg: string, extra: Doc = {}): mongo.MongoServerError {
  return new mongo.MongoServerError({ ok: 0, code, codeName, errmsg, ...extra });
}

export function duplicateKeyError(collection: string, index: { name: string; key: Doc }, keyValue: Doc): mongo.MongoServerError {
  const shown = Object.entries(keyValue)
    .map(([field, value]) => `${field}: ${mongo.BSON.EJSON.stringify(value, { relaxed: true })}`)
    .join(', ');
  return serverError(11000, 'DuplicateKey', `E11000 duplicate key error collection: fake.${collection} index: ${index.name} dup key: { ${shown} }`, {
    keyPattern: index.key,
    keyValue,
  });
}

/**
 * The server's clock: the machine's time read from `performance` (which tests that fake `Date`
 * leave alone, so they can set a client's clock without moving the server's), plus an offset a
 * test sets to play a server whose clock differs from the clients'.
 */
export class ServerClock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Math.floor(performance.timeOrigin + performance.now()) + this.offsetMs);
  }

  /** Moves the server's clock by `ms` (negative: back). */
  shift(ms: number): void {
    this.offsetMs += ms;
  }
}

/**
 * Options that change nothing on one in-memory node: every acknowledged write is durable, every
 * read is from the primary, nothing waits. Accepted and ignored; any other option a method does
 * not list throws.
 */
const WITHOUT_EFFECT = ['writeConcern', 'readPreference', 'timeoutMS'];

export function checkOptions(method: string, options: object | undefined, allowed: readonly string[]): void {
  for (const [name, value] of Object.entries(options ?? {})) {
    if (value === undefined || allowed.includes(name) || WITHOUT_EFFECT.includes(name)) continue;
    notImplemented(`the option "${name}" of ${method}`);
  }
}

export function isPlainObject(value: unknown): value is Doc {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A value as the driver sends it: a deep copy (later changes by the caller do not reach the
 * store) in which `undefined` becomes null, as BSON serialization does by default
 * (`ignoreUndefined: false`). Dates are copied; BSON values (ObjectId, Binary...) are immutable.
 */
export function asSent<T>(value: T): T {
  if (value === undefined) return null as T;
  if (Array.isArray(value)) return value.map((item: unknown) => asSent(item)) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (isPlainObject(value)) {
    const copy: Doc = {};
    for (const [field, item] of Object.entries(value)) copy[field] = asSent(item);
    return copy as T;
  }
  return value;
}

// ---- BSON order, for the comparison expressions ----

/** Each type's place in the BSON comparison order (the server's canonical type ranks). */
function bsonRank(value: unknown): number {
  if (value === undefined) return 0;
  if (value === null) return 5;
  if (typeof value === 'number') return 10;
  if (typeof value === 'string') return 15;
  if (Array.isArray(value)) return 25;
  if (value instanceof mongo.Binary || value instanceof Uint8Array) return 30;
  if (value instanceof mongo.ObjectId) return 35;
  if (typeof value === 'boolean') return 40;
  if (value instanceof Date) return 45;
  if (value instanceof RegExp) return 50;
  if (isPlainObject(value)) return 20;
  return notImplemented(`comparing a ${typeof value === 'object' ? value.constructor.name : typeof value} value`);
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

function bytesOf(value: mongo.Binary | Uint8Array): { subtype: number; bytes: Uint8Array } {
  return value instanceof mongo.Binary ? { subtype: value.sub_type, bytes: value.buffer } : { subtype: 0, bytes: value };
}

/** -1, 0 or 1 as MongoDB orders two values (aggregation comparisons, where types are not bracketed). */
export function compareBson(a: unknown, b: unknown): number {
  const rank = bsonRank(a);
  if (rank !== bsonRank(b)) return sign(rank - bsonRank(b));
  if (typeof a === 'number' && typeof b === 'number') {
    // NaN is below every number and equal to itself.
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
    return sign(a - b);
  }
  // Strings compare by their UTF-8 bytes (the simple binary collation).
  if (typeof a === 'string' && typeof b === 'string') return sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (typeof a === 'boolean' && typeof b === 'boolean') return sign(Number(a) - Number(b));
  if (a instanceof Date && b instanceof Date) return sign(a.getTime() - b.getTime());
  if (a instanceof mongo.ObjectId && b instanceof mongo.ObjectId) return sign(Buffer.compare(a.id, b.id));
  if (a instanceof RegExp && b instanceof RegExp) return sign(Buffer.compare(Buffer.from(a.source), Buffer.from(b.source))) || sign(Buffer.compare(Buffer.from(a.flags), Buffer.from(b.flags)));
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const order = compareBson(a[i], b[i]);
      if (order !== 0) return order;
    }
    return sign(a.length - b.length);
  }
  if ((a instanceof mongo.Binary || a instanceof Uint8Array) && (b instanceof mongo.Binary || b instanceof Uint8Array)) {
    const [x, y] = [bytesOf(a), bytesOf(b)];
    return sign(x.bytes.length - y.bytes.length) || sign(x.subtype - y.subtype) || sign(Buffer.compare(x.bytes, y.bytes));
  }
  if (rank === 0 || rank === 5) return 0;
  // Objects: pair by pair in order, by the value's type, then the field's name, then the value.
  const [x, y] = [Object.entries(a as Doc), Object.entries(b as Doc)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [[nameA, valueA], [nameB, valueB]] = [x[i]!, y[i]!];
    const order = sign(bsonRank(valueA) - bsonRank(valueB)) || sign(Buffer.compare(Buffer.from(nameA), Buffer.from(nameB))) || compareBson(valueA, valueB);
    if (order !== 0) return order;
  }
  return sign(x.length - y.length);
}

/** Whether two values are the same BSON (same types, values and field order). */
export function sameBson(a: unknown, b: unknown): boolean {
  return Buffer.from(mongo.BSON.serialize({ v: a })).equals(Buffer.from(mongo.BSON.serialize({ v: b })));
}

type ExpressionArguments = Parameters<typeof expressionOperators.$gt>;

function comparison<R extends boolean | number>(name: string, answer: (order: number) => R): (...args: ExpressionArguments) => R {
  return (obj, expr, options) => {
    if (!Array.isArray(expr) || expr.length !== 2) throw serverError(16020, 'Location16020', `Expression ${name} takes exactly 2 arguments`);
    const [a, b] = evalExpr(obj, expr, options) as unknown[];
    return answer(compareBson(a, b));
  };
}

/** Every mingo operator, the comparison expressions replaced by ones that follow the BSON order. */
const CONTEXT = Context.init({
  accumulator: accumulatorOperators,
  expression: {
    ...expressionOperators,
    $eq: comparison('$eq', (order) => order === 0),
    $ne: comparison('$ne', (order) => order !== 0),
    $gt: comparison('$gt', (order) => order > 0),
    $gte: comparison('$gte', (order) => order >= 0),
    $lt: comparison('$lt', (order) => order < 0),
    $lte: comparison('$lte', (order) => order <= 0),
    $cmp: comparison('$cmp', (order) => order),
  },
  pipeline: pipelineOperators,
  projection: projectionOperators,
  query: queryOperators,
  window: windowOperators,
});

const OPTIONS = { context: CONTEXT };

// ---- $$NOW and the other system variables ----

/** System variables mingo evaluates as the server does; $$NOW is bound here; the rest are not implemented. */
const EVALUATED_VARIABLES = new Set(['ROOT', 'CURRENT', 'REMOVE', 'DESCEND', 'PRUNE', 'KEEP']);
const SERVER_VARIABLES = new Set(['NOW', 'CLUSTER_TIME', 'USER_ROLES', 'SEARCH_META', 'SEARCH_SCORE']);

/** An aggregation expression with every `$$NOW` replaced by the operation's time (`$literal` arguments are left as they are). */
export function bindExpression(expression: unknown, now: Date): unknown {
  if (typeof expression === 'string') {
    if (!expression.startsWith('$$')) return expression;
    const variable = expression.slice(2).split('.')[0]!;
    if (expression === '$$NOW') return { $literal: now };
    // User variables ($let, $map...) start with a lower-case letter; system variables are upper case.
    if (SERVER_VARIABLES.has(variable) || (/^[A-Z]/.test(variable) && !EVALUATED_VARIABLES.has(variable))) notImplemented(`the system variable ${expression}`);
    return expression;
  }
  if (Array.isArray(expression)) return expression.map((item: unknown) => bindExpression(item, now));
  if (!isPlainObject(expression)) return expression;
  const entries = Object.entries(expression);
  if (entries.length === 1 && entries[0]![0] === '$literal') return expression;
  return Object.fromEntries(entries.map(([key, value]) => [key, bindExpression(value, now)]));
}

const LOGICAL = new Set(['$and', '$or', '$nor']);

/**
 * A query filter with `$$NOW` bound inside its `$expr` (elsewhere a filter's strings are values,
 * as on the server). Top-level operators other than `$expr`, `$and`, `$or`, `$nor` (`$where`,
 * `$text`, `$jsonSchema`, `$comment`...) are not implemented; mingo refuses the field operators it
 * does not know.
 */
export function bindFilter(filter: Doc, now: Date): Doc {
  if (!isPlainObject(filter)) throw serverError(2, 'BadValue', 'filter must be an object');
  const bound: Doc = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$expr') bound[key] = bindExpression(value, now);
    else if (LOGICAL.has(key)) {
      if (!Array.isArray(value) || value.length === 0) throw serverError(2, 'BadValue', `${key} must be a nonempty array`);
      bound[key] = value.map((part: Doc) => bindFilter(part, now));
    } else if (key.startsWith('$')) notImplemented(`the query operator ${key}`);
    else bound[key] = value;
  }
  return bound;
}

/** The stages an update pipeline may hold (the server refuses others there). */
export const UPDATE_STAGES: ReadonlySet<string> = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);
/** The aggregation stages the stand-in runs. */
export const AGGREGATE_STAGES: ReadonlySet<string> = new Set([...UPDATE_STAGES, '$match', '$sort', '$skip', '$limit', '$count']);
const WITHOUT_EXPRESSIONS = new Set(['$unset', '$sort', '$skip', '$limit', '$count']);

export function bindPipeline(stages: unknown, allowed: ReadonlySet<string>, now: Date, where: string): Doc[] {
  if (!Array.isArray(stages)) throw serverError(14, 'TypeMismatch', `${where} must be an array of stages`);
  return stages.map((stage: unknown) => {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) throw serverError(40323, 'Location40323', 'A pipeline stage specification object must contain exactly one field.');
    const [[name, argument]] = Object.entries(stage) as [[string, unknown]];
    if (!allowed.has(name)) {
      if (allowed === UPDATE_STAGES) throw serverError(72, 'InvalidOptions', `${name} is not allowed to be used within an update`);
      notImplemented(`the stage ${name} in ${where}`);
    }
    if (name === '$match') return { $match: bindFilter(argument as Doc, now) };
    if (WITHOUT_EXPRESSIONS.has(name)) return stage;
    return { [name]: bindExpression(argument, now) };
  });
}

// ---- reads ----

export function matches(filter: Doc, doc: Doc, now: Date): boolean {
  return new Query(bindFilter(filter, now), OPTIONS).test(doc);
}

export interface ReadShape {
  sort?: Record<string, 1 | -1>;
  skip?: number;
  limit?: number;
  projection?: Doc;
}

/** The documents `filter` matches, in natural (insertion) order unless sorted, then skipped, limited and projected. */
export function select(docs: readonly Doc[], filter: Doc, now: Date, shape: ReadShape = {}): Doc[] {
  let cursor = new Query(bindFilter(filter, now), OPTIONS).find(docs as Doc[], shape.projection ? bindProjection(shape.projection, now) : undefined);
  if (shape.sort) cursor = cursor.sort(shape.sort);
  if (shape.skip) cursor = cursor.skip(shape.skip);
  // limit(0) is "no limit", as on the server.
  if (shape.limit) cursor = cursor.limit(Math.abs(shape.limit));
  return cursor.all() as Doc[];
}

function bindProjection(projection: Doc, now: Date): Doc {
  return bindExpression(projection, now) as Doc;
}

export function aggregate(docs: readonly Doc[], pipeline: unknown, now: Date): Doc[] {
  return new Aggregator(bindPipeline(pipeline, AGGREGATE_STAGES, now, 'aggregate'), OPTIONS).run(docs as Doc[]) as Doc[];
}

// ---- writes ----

/** Whether an update is a pipeline or operators, checked as the driver checks it before sending. */
export function checkUpdate(change: unknown): void {
  if (Array.isArray(change)) return;
  if (!isPlainObject(change) || !Object.keys(change)[0]?.startsWith('$')) throw new mongo.MongoInvalidArgumentError('Update document requires atomic operators');
}

export function checkReplacement(replacement: unknown): void {
  if (!isPlainObject(replacement)) throw new mongo.MongoInvalidArgumentError('Replacement document must be an object');
  if (Object.keys(replacement)[0]?.startsWith('$')) throw new mongo.MongoInvalidArgumentError('Replacement document must not contain atomic operators');
}

/** Update operators mingo applies as the server does; `$setOnInsert` and `$currentDate` are rewritten into `$set` first. */
const MINGO_UPDATE_OPERATORS = new Set(['$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$push', '$pull', '$pullAll', '$pop', '$addToSet', '$bit']);

/**
 * The document after the update: `change` is a pipeline (an array of stages) or update operators.
 * `inserting`: the document is an upsert's new one (where `$setOnInsert` applies).
 */
export function applyUpdate(doc: Doc, change: Doc | Doc[], now: Date, inserting: boolean): Doc {
  const after = Array.isArray(change) ? applyPipeline(doc, change, now) : applyOperatorUpdate(doc, change, now, inserting);
  if ('_id' in doc) {
    if (!('_id' in after)) notImplemented('an update that removes _id');
    if (!sameBson(doc['_id'], after['_id'])) throw serverError(66, 'ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  return after;
}

function applyPipeline(doc: Doc, stages: Doc[], now: Date): Doc {
  const [after] = new Aggregator(bindPipeline(stages, UPDATE_STAGES, now, 'an update pipeline'), OPTIONS).run([asSent(doc)]) as Doc[];
  if (!after) throw new Error('An update pipeline left no document');
  return after;
}

function applyOperatorUpdate(doc: Doc, change: Doc, now: Date, inserting: boolean): Doc {
  const operators: Doc = {};
  const paths: string[] = [];
  for (const [operator, fields] of Object.entries(change)) {
    if (!isPlainObject(fields)) throw serverError(9, 'FailedToParse', `Modifiers operate on fields but we found type ${typeof fields} instead`);
    if (operator !== '$setOnInsert' && operator !== '$currentDate' && !MINGO_UPDATE_OPERATORS.has(operator)) {
      throw serverError(9, 'FailedToParse', `Unknown modifier: ${operator}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    for (const [path, value] of Object.entries(fields)) {
      if (path.split('.').some((part) => part.startsWith('$'))) notImplemented(`the positional path "${path}" in ${operator}`);
      paths.push(path);
      if (operator === '$rename') paths.push(String(value));
    }
    if (operator === '$setOnInsert' && !inserting) continue;
    const target = operator === '$setOnInsert' || operator === '$currentDate' ? '$set' : operator;
    const values = operator === '$currentDate' ? Object.fromEntries(Object.entries(fields).map(([path, kind]) => [path, currentDate(kind, now, path)])) : fields;
    operators[target] = { ...(operators[target] as Doc | undefined), ...values };
  }
  checkConflicts(paths);
  // mingo refuses any $set of _id; the server allows its own value (and any on an upsert's insert),
  // and applyUpdate refuses a change afterwards.
  const sets = operators['$set'] as Doc | undefined;
  const newId = sets && '_id' in sets ? { value: sets['_id'] } : undefined;
  if (sets) delete sets['_id'];
  if (paths.some((path) => path.startsWith('_id.'))) notImplemented('updating a field inside _id');
  const after = asSent(doc);
  const changes = Object.entries(operators).filter(([, fields]) => Object.keys(fields as Doc).length > 0);
  if (changes.length > 0) applyOperators(after, Object.fromEntries(changes), undefined, undefined, { cloneMode: 'deep', queryOptions: OPTIONS });
  return newId ? { ...after, _id: asSent(newId.value) } : after;
}

function currentDate(kind: unknown, now: Date, path: string): Date {
  if (kind === true || (isPlainObject(kind) && kind['$type'] === 'date')) return now;
  return notImplemented(`$currentDate ${JSON.stringify(kind)} for "${path}"`);
}

/** Two operators of one update on the same path, or on a path and one inside it: the server's error 40. */
function checkConflicts(paths: readonly string[]): void {
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (a === b || b.startsWith(`${a}.`)) throw serverError(40, 'ConflictingUpdateOperators', `Updating the path '${b}' would create a conflict at '${a}'`);
  }
}

/**
 * The server parses an upsert's filter without `$expr` (anywhere in it): such an upsert fails
 * whether or not a document matches (QueryFeatureNotAllowed, since 5.0 and still in 8.x).
 */
export function checkUpsertFilter(filter: Doc): void {
  const hasExpr = (part: Doc): boolean =>
    Object.entries(part).some(([key, value]) => key === '$expr' || (LOGICAL.has(key) && Array.isArray(value) && value.some((inner: Doc) => hasExpr(inner))));
  if (hasExpr(filter)) throw serverError(224, 'QueryFeatureNotAllowed', '$expr is not allowed in the query predicate for an upsert');
}

/**
 * The document an upsert starts from: the filter's equality conditions (`field: value`,
 * `field: {$eq: value}`, also inside `$and`); other conditions give nothing, as on the server.
 * `$or`, `$nor` and `$in` in an upsert's filter are not implemented.
 */
export function upsertSeed(filter: Doc): Doc {
  const equalities: Doc = {};
  const take = (part: Doc) => {
    for (const [key, condition] of Object.entries(part)) {
      if (key === '$and') for (const inner of condition as Doc[]) take(inner);
      else if (key.startsWith('$')) notImplemented(`${key} in the filter of an upsert`);
      else if (isPlainObject(condition) && Object.keys(condition)[0]?.startsWith('$')) {
        if ('$in' in condition) notImplemented(`$in in the filter of an upsert ("${key}")`);
        if ('$eq' in condition) equalities[key] = condition['$eq'];
      } else if (!(condition instanceof RegExp)) equalities[key] = condition;
    }
  };
  take(filter);
  const seed: Doc = {};
  for (const [path, value] of Object.entries(equalities)) setPath(seed, path, asSent(value));
  return seed;
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(at[part])) at[part] = {};
    at = at[part] as Doc;
  }
  at[parts.at(-1)!] = value;
}

/** `_id` first, as the server stores a new document; one is made when the document has none. */
export function withIdFirst(doc: Doc): Doc & { _id: unknown } {
  const { _id: id, ...rest } = doc;
  return { _id: id ?? new mongo.ObjectId(), ...rest };
}

/** Applies a projection to one document (findOneAndUpdate's). */
export function project(doc: Doc, projection: Doc | undefined, now: Date): Doc {
  if (!projection) return doc;
  const [shown] = select([doc], {}, now, { projection });
  return shown ?? doc;
}
