import { z } from 'zod';
import { controlCharacterProblem, LINE_BREAKS_AND_TABS } from './control-characters.js';

const refuseControls = (allowed: readonly string[]) =>
  z.superRefine<string>((value, ctx) => {
    const problem = controlCharacterProblem(value, allowed);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
  });

/** A zod check for names, labels and other one-line texts: `z.string().max(100).check(singleLine())`. */
export const singleLine = () => refuseControls([]);

/** A zod check for texts of several lines (an app's description): line breaks and tabs pass, nothing else does. */
export const multiLine = () => refuseControls(LINE_BREAKS_AND_TABS);
