import { Injectable } from '@nestjs/common';

/** The time, injected where a test must move it (the backup scheduler); the real clock by default. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
