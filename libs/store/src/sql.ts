/**
 * A small SQL builder: tagged templates whose interpolated values become bound
 * parameters ($1, $2, ...), never SQL text.
 *
 *   sql`select * from t where a = ${x} and b in (${sql.join(ys.map((y) => sql`${y}`), sql`, `)})`
 *
 * - A value interpolated is a parameter; a fragment (sql`...`) interpolated
 *   is inlined with its own parameters renumbered.
 * - `sql.join(fragments, separator)` joins fragments; `sql.raw(text)` is SQL
 *   text written by the program (never user input); `sql.param(v)` makes a
 *   value a parameter explicitly (arrays included); `sql.identifier(name)` is
 *   a double-quoted identifier.
 * - `toQuery(fragment)` gives the `{ text, values }` the pg driver takes.
 */

export class SQL {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
  constructor(strings: readonly string[], values: readonly unknown[]) {
    this.strings = strings;
    this.values = values;
  }
}

class Param {
  readonly value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }
}

interface SqlTag {
  (strings: TemplateStringsArray, ...values: unknown[]): SQL;
  join(fragments: readonly SQL[], separator: SQL): SQL;
  raw(text: string): SQL;
  param(value: unknown): Param;
  identifier(name: string): SQL;
}

export const sql: SqlTag = Object.assign(
  (strings: TemplateStringsArray, ...values: unknown[]) => new SQL([...strings], values),
  {
    join(fragments: readonly SQL[], separator: SQL): SQL {
      if (fragments.length === 0) return new SQL([""], []);
      const strings: string[] = [""];
      const values: unknown[] = [];
      fragments.forEach((f, i) => {
        if (i > 0) {
          strings.push("");
          values.push(separator);
        }
        strings.push("");
        values.push(f);
      });
      return new SQL(strings, values);
    },
    raw(text: string): SQL {
      return new SQL([text], []);
    },
    param(value: unknown): Param {
      return new Param(value);
    },
    identifier(name: string): SQL {
      return new SQL([`"${name.replaceAll('"', '""')}"`], []);
    },
  },
);

/** The text with $n placeholders and the parameter values of a fragment. */
export function toQuery(fragment: SQL): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const walk = (f: SQL): string => {
    let text = f.strings[0] ?? "";
    for (let i = 0; i < f.values.length; i++) {
      const v = f.values[i];
      if (v instanceof SQL) text += walk(v);
      else {
        values.push(v instanceof Param ? v.value : v);
        text += `$${values.length}`;
      }
      text += f.strings[i + 1] ?? "";
    }
    return text;
  };
  return { text: walk(fragment), values };
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * A JS array as the PostgreSQL array literal the pg driver would send for it
 * (`{"a","b",NULL}`), built with one join instead of a concatenation and two
 * regular-expression replacements per element: the batched writes pass each
 * column of a batch as one array parameter (`unnest($1::text[], ...)`), so
 * this runs for every row the pipeline stores. Elements may be strings,
 * numbers, bigints, booleans, null or undefined (NULL); anything else (a
 * nested array, a Buffer, a Date, an object) gives undefined, and the caller
 * leaves that array to the driver. Every element but NULL is quoted, as the
 * driver does, with `"` and `\` escaped.
 */
export function arrayLiteral(list: readonly unknown[]): string | undefined {
  let plain = true;
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v === "string") {
      if (NEEDS_ESCAPE.test(v)) plain = false;
    } else if (v === null || v === undefined) plain = false;
    else if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") continue;
    else return undefined;
  }
  if (list.length === 0) return "{}";
  if (plain) return `{"${list.join('","')}"}`;
  const parts = new Array<string>(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    parts[i] = v === null || v === undefined ? "NULL" : `"${String(v).replace(ESCAPED, "\\$&")}"`;
  }
  return `{${parts.join(",")}}`;
}
