/**
 * Secrets kept out of text that people read or that is written down (pure).
 *
 * - redactUrl(text): every URL password in `text` ("scheme://user:PASS@")
 *   written "***" ("postgres://u:***@h/db"); the rest unchanged.
 * - commandLine(argv, max?): a process's command line as one line for
 *   messages and the embedded store's owner.json: URL passwords masked, the
 *   value of an option named like a secret (token, password, passwd, secret,
 *   api-key, apikey, credential) masked, whether given as "--x-token=V" or as
 *   "--x-token V" (the next argument, unless it is itself an option), and
 *   "password=" / "token=" style parameters in a query string masked; an
 *   argument with white space, quotes or control characters quoted as a JSON
 *   string (escapes included, so nothing reaches a terminal raw); the whole
 *   cut to `max` characters (default 300), ending "..." when cut.
 */

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):[^@/\s]*@/gi;
const SECRET_OPTION = /^(--?[\w.-]*(?:token|password|passwd|secret|api-?key|credential)[\w.-]*)(=.*)?$/i;
const QUERY_SECRET =
  /([?&;](?:[\w.-]*(?:token|password|passwd|secret|api-?key|credential)[\w.-]*)=)[^&;\s]*/gi;

export function redactUrl(text: string): string {
  return text.replace(URL_PASSWORD, "$1:***@");
}

function shown(arg: string): string {
  const clean = redactUrl(arg).replace(QUERY_SECRET, "$1***");
  return /[\s"'\\\u0000-\u001f\u007f-\u009f]/.test(clean) || clean === "" ? JSON.stringify(clean) : clean;
}

export function commandLine(argv: readonly string[], max = 300): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = String(argv[i]);
    const secret = SECRET_OPTION.exec(a);
    if (secret) {
      if (secret[2] !== undefined) out.push(`${secret[1]}=***`);
      else {
        out.push(a);
        const next = argv[i + 1];
        if (next !== undefined && !String(next).startsWith("-")) {
          out.push("***");
          i++;
        }
      }
      continue;
    }
    out.push(shown(a));
  }
  const line = out.join(" ");
  return line.length > max ? `${line.slice(0, Math.max(0, max - 3))}...` : line;
}
