import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * This process among others on the same stores: host, pid and a random part (pids repeat across
 * containers and restarts). Holders of leases are named by it, so messages can say which process
 * holds what.
 */
export const INSTANCE_ID = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
