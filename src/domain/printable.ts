/** C0 and C1 control characters (and DEL): what a terminal may take as a command rather than as text. */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * Text from elsewhere (labels, environment, a target's image) made safe to print: control characters become
 * visible escapes (\x1b, \n), so that nothing recorded on a debugger can colour, retitle or rewrite the terminal
 * of whoever lists it.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
