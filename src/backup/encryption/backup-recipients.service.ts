import { Inject, Injectable } from '@nestjs/common';
import type { Encryption, EncryptionInput, Recipient } from '../../contract/encryption.schemas.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { AgeKeyError, recipientBytes } from '../../archive/age-keys.js';
import { quoted } from '../../platform/text/control-characters.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';

/** Where a recipient is configured: for every app (by an admin), or for one app (by its Owner). */
export type RecipientScope = { kind: 'installation' } | { kind: 'app'; appId: string; appName: string };

interface RecipientDoc {
  /** `installation:{name}` or `app:{appId}:{name}`. */
  id: string;
  scope: string;
  name: string;
  recipient: string;
  created: string;
  createdBy: string;
}

const scopeKey = (scope: RecipientScope) => (scope.kind === 'installation' ? 'installation' : `app:${scope.appId}`);
const toView = (doc: RecipientDoc): Recipient => ({ name: doc.name, recipient: doc.recipient, scope: doc.scope === 'installation' ? 'installation' : 'app', created: doc.created });

/**
 * The recipients backups may be encrypted to: public keys that an admin configured for every app
 * or an app's Owner for that app, by name. A backup or a policy can name only these, so nobody
 * with the Developer role can make an app's backups (a policy's, pruned by retention, included)
 * readable only with a key the admins and Owners never agreed to. Recipients are installation
 * state in the read store (like backup policies), never archived.
 */
@Injectable()
export class BackupRecipients {
  private readonly recipients: ReadCollection<RecipientDoc>;

  constructor(@Inject(READ_STORE) store: ReadStore) {
    this.recipients = store.collection<RecipientDoc>('encryption_recipients', { indexes: [['scope', 'name']] });
  }

  /** A scope's recipients by name; for an app, its own then the installation's. */
  async list(scope: RecipientScope): Promise<Recipient[]> {
    const own = await this.recipients.find({ scope: scopeKey(scope) }, { sort: [{ field: 'name', direction: 'asc' }], top: 1000 });
    if (scope.kind === 'installation') return own.items.map(toView);
    return [...own.items.map(toView), ...(await this.list({ kind: 'installation' }))];
  }

  async add(scope: RecipientScope, body: { name: string; recipient: string }, actor: string): Promise<Recipient> {
    try {
      recipientBytes(body.recipient);
    } catch (error) {
      if (error instanceof AgeKeyError) throw invalid(`recipient: ${error.message}`);
      throw error;
    }
    const doc: RecipientDoc = { id: `${scopeKey(scope)}:${body.name}`, scope: scopeKey(scope), name: body.name, recipient: body.recipient, created: new Date().toISOString(), createdBy: actor };
    const stored = await this.recipients.insertIfMissing(doc);
    if (stored.created !== doc.created || stored.recipient !== doc.recipient || stored.createdBy !== actor) {
      throw conflict(`A recipient named "${body.name}" exists ${scope.kind === 'installation' ? 'for the installation' : `for app "${scope.appName}"`}; remove it first or choose another name`);
    }
    return toView(stored);
  }

  async remove(scope: RecipientScope, name: string): Promise<void> {
    const id = `${scopeKey(scope)}:${name}`;
    if (!(await this.recipients.get(id))) throw notFound(`There is no recipient named ${JSON.stringify(name.slice(0, 100))} ${scope.kind === 'installation' ? 'for the installation' : `for app "${scope.appName}"`}`);
    await this.recipients.delete(id);
  }

  /**
   * What a backup of `app` is encrypted to, as its job records it: each requested recipient looked
   * up among the app's and the installation's, by name or by key (recorded with its name); a valid
   * X25519 public key configured nowhere is taken as it is (recorded with name null), so a source
   * installation backs up to another's `GET /api/installation/recipient` with nothing configured
   * first (the shared contract: recipients are `age1…` keys). 400 naming any unknown name, and any
   * `age1…` text that is not a valid key (public keys are quoted; they are not secrets). A
   * passphrase needs nothing looked up.
   */
  async resolve(app: { id: string; name: string }, requested: EncryptionInput): Promise<Encryption> {
    if (requested.passphrase) return { recipients: [], passphrase: true };
    const known = await this.list({ kind: 'app', appId: app.id, appName: app.name });
    const problems: string[] = [];
    const resolved: Encryption['recipients'] = [];
    const add = (entry: Encryption['recipients'][number]) => {
      if (!resolved.some((done) => done.recipient === entry.recipient)) resolved.push(entry);
    };
    for (const wanted of requested.recipients ?? []) {
      const found = known.find((recipient) => recipient.name === wanted) ?? known.find((recipient) => recipient.recipient === wanted);
      if (found) {
        add({ name: found.name, recipient: found.recipient });
        continue;
      }
      // Recipient names follow the app name rule (lowercase, digits, dashes), so none starts "age1" with 58 more characters; text that looks like a key is judged as one.
      if (wanted.startsWith('age1')) {
        try {
          recipientBytes(wanted);
          add({ name: null, recipient: wanted });
        } catch (error) {
          if (!(error instanceof AgeKeyError)) throw error;
          problems.push(`encryption.recipients: ${quoted(wanted, 100)} is not a valid age public key: ${error.message}`);
        }
        continue;
      }
      // A private key pasted by mistake is never quoted back (a 400 may end up in a proxy's or a client's log).
      if (/^age-secret-key-/i.test(wanted.trim())) {
        problems.push('encryption.recipients: one is an age private key (AGE-SECRET-KEY-1…, not shown here); give its public key (age1…, what age-keygen -y prints) and keep the private key secret');
        continue;
      }
      problems.push(
        `encryption.recipients: ${quoted(wanted, 60)} is not a recipient configured for app "${app.name}" or for the installation; name one configured (an Owner adds it with POST /api/apps/${app.name}/recipients, an admin for every app with POST /api/recipients) or give an age public key (age1…)`,
      );
    }
    if (problems.length > 0) throw invalid(problems.join('; '));
    return { recipients: resolved, passphrase: false };
  }
}
