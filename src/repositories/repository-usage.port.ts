import { Injectable } from '@nestjs/common';

/**
 * What else in AppVault names a repository (a backup policy, a backup's copy), so that removing
 * it can be refused while something still relies on it. The parts that name repositories (the
 * backup module) register a RepositoryUsage here at start; this module never imports them.
 */
export interface RepositoryUsage {
  /** Up to `limit` things that name the repository, each in words ("the backup policy of app shop"). */
  usesOf(repository: string, limit: number): Promise<string[]>;
}

@Injectable()
export class RepositoryUsages {
  private readonly usages: RepositoryUsage[] = [];

  register(usage: RepositoryUsage): void {
    this.usages.push(usage);
  }

  async usesOf(repository: string, limit = 5): Promise<string[]> {
    const found: string[] = [];
    for (const usage of this.usages) {
      if (found.length >= limit) break;
      found.push(...(await usage.usesOf(repository, limit - found.length)));
    }
    return found.slice(0, limit);
  }
}
