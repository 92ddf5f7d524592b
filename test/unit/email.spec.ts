import { describe, expect, it } from 'vitest';
import { checkEmail, normalizeEmail } from '../../src/platform/email.js';

describe('emails', () => {
  it('normalises: NFC, trimmed, lower case, the domain in its ASCII form', () => {
    expect(checkEmail('  Ada.Lovelace@Example.COM ')).toEqual({ email: 'ada.lovelace@example.com' });
    expect(checkEmail('ada@bücher.de')).toEqual({ email: 'ada@xn--bcher-kva.de' });
    // The same domain written decomposed (u + combining diaeresis) is the same account.
    expect(checkEmail('ada@bu\u0308cher.de')).toEqual({ email: 'ada@xn--bcher-kva.de' });
    expect(normalizeEmail('Owner@Example.com')).toBe('owner@example.com');
  });

  it('refuses invisible characters and look-alike letters that would make a second account', () => {
    for (const [email, problem] of [
      ['own\u200ber@example.com', /invisible/], // zero-width space
      ['owner\u202e@example.com', /invisible/], // right-to-left override
      ['owner@exam\u00adple.com', /invisible/], // soft hyphen
      ['оwner@example.com', /plain ASCII/], // Cyrillic о
      ['ownеr@example.com', /plain ASCII/], // Cyrillic е
      ['owner example@x.org', /invisible|space/],
      ['no-at-sign', /not an email/],
      ['@example.com', /not an email/],
      ['owner@', /not an email/],
      ['a'.repeat(250) + '@x.org', /longer than 254/],
    ] as const) {
      const checked = checkEmail(email);
      expect('problem' in checked ? checked.problem : 'accepted', email).toMatch(problem);
    }
  });
});
