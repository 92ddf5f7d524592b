import { basename, dirname, resolve } from 'node:path';
import { controlCharacters } from '../platform/text/control-characters.js';
import { CliError, ExitCode } from './exit-codes.js';

/** Longest name made from remote text, in UTF-8 bytes: under every common file system's 255, with room for `.part`. */
export const MAX_NAME_BYTES = 120;

/** Path separators and the other characters Windows refuses in a name. */
const FORBIDDEN = /[/\\:*?"<>|]/g;

/** Names Windows keeps for devices, with or without an extension (`nul.zip` is the device too). */
const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

/** An extension kept when a name is cut: a dot, then 1 to 10 letters or digits. */
const EXTENSION = /\.[\p{L}\p{N}]{1,10}$/u;

/** The longest start of `text` within `bytes` UTF-8 bytes, cut between code points. */
function cutToBytes(text: string, bytes: number): string {
  let kept = '';
  let used = 0;
  for (const character of text) {
    used += Buffer.byteLength(character);
    if (used > bytes) break;
    kept += character;
  }
  return kept;
}

/**
 * A file name made of `text` (a server's app name, a date it sent) that names one file in the
 * folder it is joined to and nothing else: separators, the characters Windows refuses, control,
 * format and separator characters become `_`; `..` cannot stay (a run of dots becomes `_`);
 * leading dots (hidden files) and trailing dots and spaces are dropped; Windows device names get a
 * `_` in front; the name is cut to `maxBytes` of UTF-8 on a character boundary, its extension kept.
 * Answers '' when nothing is left: the caller says which name to use then.
 */
export function safeFileName(text: string, maxBytes = MAX_NAME_BYTES): string {
  let name = text
    .normalize('NFC')
    .replace(controlCharacters(), '_')
    .replace(FORBIDDEN, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/_{2,}/g, '_')
    .replace(/^[.\s]+/, '')
    .replace(/[.\s]+$/, '');
  if (DEVICE.test(name)) name = `_${name}`;
  if (Buffer.byteLength(name) > maxBytes) {
    const extension = EXTENSION.exec(name)?.[0] ?? '';
    name = `${cutToBytes(name.slice(0, name.length - extension.length), maxBytes - Buffer.byteLength(extension)).replace(/[.\s]+$/, '')}${extension}`;
  }
  return /^[_.\s]*$/.test(name) ? '' : name;
}

/**
 * The absolute path of `name` in `folder`, checked to be directly inside it: the one place a
 * name from elsewhere becomes a path, so a name that slipped past safeFileName still cannot
 * reach another folder.
 */
export function fileInFolder(folder: string, name: string): string {
  const base = resolve(folder);
  const file = resolve(base, name);
  if (dirname(file) !== base || basename(file) !== name) {
    throw new CliError(`Refusing to write ${JSON.stringify(name)}: it is not a plain file name inside ${base}; pass -o <file>`, ExitCode.usage);
  }
  return file;
}
