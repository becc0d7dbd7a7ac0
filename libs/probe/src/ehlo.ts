/**
 * EHLO keyword parsing (pure), line by line (RFC 5321 4.1.1.1):
 *   ehlo-ok-rsp = "250" SP domain [SP greet] CRLF
 *               / ( "250-" domain [SP greet] CRLF
 *                   *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
 *   ehlo-line    = ehlo-keyword *( SP ehlo-param )
 *   ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *
 * ehloKeywords(lines) takes the reply text lines (code and separator already
 * removed), skips the first (the server's domain and greeting), and returns the
 * keyword of each following line, uppercased, in order, without duplicates.
 * A keyword ends at a space or at "=" (the old "AUTH=LOGIN" form). A line whose
 * first token is not a valid keyword contributes nothing. So "STARTTLS" is
 * found only as a keyword: never as a substring of a greeting, of another
 * keyword ("X-STARTTLS") or of parameters.
 * hasKeyword(keywords, k) is a case-insensitive membership test.
 */

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

export function ehloKeywords(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^[^ =]*/.exec(line);
    const kw = m ? m[0] : "";
    if (!KEYWORD.test(kw)) continue;
    const up = kw.toUpperCase();
    if (!out.includes(up)) out.push(up);
  }
  return out;
}

export function hasKeyword(keywords: readonly string[], k: string): boolean {
  const up = k.toUpperCase();
  return keywords.some((x) => x.toUpperCase() === up);
}
