/**
 * The import rules of src/ (docs/architecture.md, "Which way imports go"). `npm run lint:deps`
 * prints what breaks them; test/unit/dependency-rules.spec.ts runs the same check in `npm test`
 * and adds the one rule dependency-cruiser cannot say: no two folders import each other, however
 * indirectly.
 */
const DOMAINS = '^src/(apps|schemas|contents|assets|users)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module never imports itself back, not even through others: each cycle is a knot no one can change one end of.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'archive-is-a-library',
      severity: 'error',
      comment:
        'src/archive reads, writes and checks archives for the server, the offline `appvault archive` commands and tests alike: no Nest, and no domain, use case or composition (domains come in as participants and stream definitions).',
      from: { path: '^src/archive/' },
      to: { path: ['^node_modules/@nestjs/', DOMAINS, '^src/(backup|jobs|cli|config)/', '^src/[^/]+\\.ts$'] },
    },
    {
      name: 'kernel-imports-no-domain',
      severity: 'error',
      comment: 'The kernel (event sourcing, jobs, platform, infrastructure, archive) is what domains build on; it never names one.',
      from: { path: '^src/(eventsourcing|jobs|platform|infrastructure|archive)/' },
      to: { path: [DOMAINS, '^src/(backup|cli)/'] },
    },
    {
      name: 'use-cases-see-no-domain',
      severity: 'error',
      comment:
        'Backups, restores and rollbacks know domains only through participants and the event catalog. Apps are what they are of, so they may name the app events (a rollback writes its AppRolledBack marker).',
      from: { path: '^src/backup/' },
      to: { path: '^src/(schemas|contents|assets|users)/' },
    },
    {
      name: 'adapters-only-in-infrastructure',
      severity: 'error',
      comment: 'Domains and use cases see ports; only infrastructure (and its module) picks adapters.',
      from: { path: '^src/', pathNot: '^src/infrastructure/' },
      to: { path: '\\.adapter\\.ts$' },
    },
    {
      name: 'server-code-never-imports-the-cli',
      severity: 'error',
      comment: 'The CLI is a client of the server (and of the archive library offline), never the other way round.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
