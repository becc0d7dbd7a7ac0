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
