/**
 * Times a client gives the API (the `from` and `to` of /v1/stats/adoption,
 * the time inside a /v1/scans cursor), read strictly before any of them
 * reaches SQL. Pure.
 *
 * `parseTime(text)` accepts an RFC 3339 date-time with a zone,
 * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, that names a real
 * instant: year 0001 to 9999 (as UTC), a day the month has (2024-02-30 is
 * refused, 2024-02-29 is not), hour 00-23 (or 24:00:00, the end of the day),
 * minute and second 00-59 (no leap second), at most 9 fraction digits, an
 * offset of at most 23:59. The result is the instant as
 * `Date.prototype.toISOString()` writes it (UTC, milliseconds; further
 * fraction digits are dropped), or an error saying what is wrong.
 * JavaScript's Date.parse is no judge: it turns 2024-02-30 into March 1st and
 * accepts year 0, which PostgreSQL then refuses.
 */

export const MAX_FRACTION_DIGITS = 9;

export type TimeParse = { ok: true; iso: string } | { ok: false; error: string };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/i;

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const fail = (error: string): TimeParse => ({ ok: false, error });

export function parseTime(text: string): TimeParse {
  const m = RFC3339.exec(text);
  if (!m) return fail("not a date-time with a zone (YYYY-MM-DDTHH:MM:SS[.fff] and Z or +HH:MM)");
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = m[7] ?? "";
  if (year < 1) return fail("the year must be 0001 to 9999");
  if (month < 1 || month > 12) return fail(`there is no month ${m[2]}`);
  if (day < 1 || day > daysIn(year, month))
    return fail(`${m[1]}-${m[2]} has ${daysIn(year, month)} days, not ${m[3]}`);
  const endOfDay = hour === 24 && minute === 0 && second === 0 && /^0*$/.test(fraction);
  if (hour > 23 && !endOfDay) return fail("the hour must be 00 to 23 (or 24:00:00, the end of the day)");
  if (minute > 59) return fail("the minute must be 00 to 59");
  if (second > 59) return fail("the second must be 00 to 59 (leap seconds are not supported)");
  if (fraction.length > MAX_FRACTION_DIGITS)
    return fail(`at most ${MAX_FRACTION_DIGITS} digits after the second, not ${fraction.length}`);
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return fail("the offset must be at most 23:59");
    offsetMinutes = (m[8] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute - offsetMinutes, second, Number(fraction.slice(0, 3).padEnd(3, "0")));
  const utcYear = d.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return fail("the year must be 0001 to 9999 in UTC");
  return { ok: true, iso: d.toISOString() };
}
