/**
 * Test and benchmark data in bulk: a finished scan of `rows` synthetic
 * verdicts, written by SQL alone in the store's layout (migrations/0006:
 * blobs with codec 0, plain JSON, keeping their explanation; one result row
 * per domain; the scan's counters), so that a million rows load in seconds.
 *
 * By default row g is d<g, 7 digits>.example, "deliver encrypted
 * opportunistic-tls, insecure" through mx<g % 50>.provider<g % 7>.net, with an
 * explanation of about 30 x `explanationRepeat` characters. `shape` replaces
 * any of these with an SQL expression over the row number `g` (benchmarks
 * drift DANE states over scans this way).
 */

import { type SQL, sql } from "../src/sql.ts";
import type { Store } from "../src/store.ts";

export interface BulkShape {
  domain?: SQL;
  tld?: SQL;
  mx?: SQL;
  provider?: SQL;
  action?: SQL;
  security?: SQL;
  reason?: SQL;
  dane?: SQL;
}

export async function insertBulkScan(
  store: Store,
  scan: string,
  rows: number,
  opts: { explanationRepeat?: number; startedAt?: string; shape?: BulkShape } = {},
): Promise<void> {
  const startedAt = opts.startedAt ?? "2030-01-01T00:00:00Z";
  const repeat = opts.explanationRepeat ?? 20;
  const x = opts.shape ?? {};
  const s = await store.db.execute<{ seq: number }>(
    sql`insert into scans (id, parameters, state, started_at, finished_at)
        values (${scan}, '{}', 'finished', ${startedAt}::timestamptz, ${startedAt}::timestamptz + interval '1 hour')
        returning seq`,
  );
  const seq = s.rows[0]?.seq as number;
  await store.db.execute(sql`select danesweep_add_scan_partitions(${seq})`);
  const rowsSql = sql`
    select g, d.domain, d.tld, d.mx, d.provider, d.action, d.security, d.reason, d.dane,
           '192.0.2.' || (g % 200 + 1) as address
    from generate_series(1, ${rows}::int) g,
    lateral (select
      ${x.domain ?? sql`'d' || lpad(g::text, 7, '0') || '.example'`}::text as domain,
      ${x.tld ?? sql`'example'`}::text as tld,
      ${x.mx ?? sql`'mx' || (g % 50) || '.provider' || (g % 7) || '.net'`}::text as mx,
      ${x.provider ?? sql`'provider' || (g % 7) || '.net'`}::text as provider,
      ${x.action ?? sql`'deliver'`}::text as action,
      ${x.security ?? sql`'encrypted'`}::text as security,
      ${x.reason ?? sql`'opportunistic-tls'`}::text as reason,
      ${x.dane ?? sql`'insecure'`}::text as dane) d`;
  await store.db.execute(
    sql`insert into verdict_classes (action, security, reason, dane_state, broken)
        select distinct action, security, reason, dane, false from (${rowsSql}) r
        on conflict do nothing`,
  );
  await store.db.execute(
    sql`with j as (
          select r.*,
            jsonb_build_object('schema', 1, 'domain', domain, 'port', 25, 'resolverValidates', true,
              'mx', jsonb_build_object('qname', domain, 'qtype', 'MX', 'outcome', 'answer', 'security', 'insecure',
                'chain', '[]'::jsonb, 'owner', domain,
                'records', jsonb_build_array(jsonb_build_object('preference', 10, 'exchange', mx))),
              'hosts', '[]'::jsonb, 'limits', '[]'::jsonb) as facts,
            jsonb_build_object('schema', 2, 'domain', domain,
              'engine', jsonb_build_object('version', 'bulk', 'profile', 'postfix'),
              'verdict', jsonb_strip_nulls(jsonb_build_object('action', action, 'security', security, 'host', mx,
                'address', address, 'reason', reason)),
              'dane', dane, 'problems', '[]'::jsonb, 'mxSecure', false,
              'mx', jsonb_build_object('outcome', 'answer', 'security', 'insecure'),
              'probeMode', 'all', 'tld', tld, 'provider', provider,
              'hosts', jsonb_build_array(jsonb_build_object('host', mx, 'preference', 10, 'implicit', false,
                'addressSecurity', 'insecure', 'tlsaBaseWhy', 'address-insecure', 'requirement', 'opportunistic',
                'addresses', jsonb_build_array(jsonb_build_object('address', address, 'family', 4,
                  'security', 'insecure', 'result', 'encrypted', 'reason', reason)))),
              'explanation', 'The host ' || g || ' ' || repeat('was reached and said hello. ', ${repeat}::int)) as verdict
          from (${rowsSql}) r),
        h as (
          select j.*, encode(substr(sha256(convert_to(facts::text, 'UTF8')), 1, 16), 'hex')::uuid as fh,
                 encode(substr(sha256(convert_to(verdict::text, 'UTF8')), 1, 16), 'hex')::uuid as vh
          from j),
        fb as (
          insert into fact_blobs (hash, body)
          select fh, '\\x00'::bytea || convert_to(facts::text, 'UTF8') from h on conflict do nothing),
        vb as (
          insert into verdict_blobs (hash, tld, provider, mx_host, delivered_host, delivered_address, engine, profile, problems, body)
          select vh, tld, provider, mx, mx, address, 'bulk', 'postfix', '{}', '\\x00'::bytea || convert_to(verdict::text, 'UTF8')
          from h on conflict do nothing)
        insert into results (scan, domain, class, facts, verdict, judged_seq, judged_at, collected_at)
        select ${seq}, h.domain, c.id, fh, vh, nextval('judged_seq'),
               ${startedAt}::timestamptz + interval '1 second', ${startedAt}::timestamptz + interval '1 second'
        from h join verdict_classes c on c.action = h.action and c.security is not distinct from h.security
          and c.reason = h.reason and c.dane_state = h.dane and not c.broken`,
  );
  await store.db.execute(
    sql`insert into scan_counters (scan, slot, seeded, judged) values (${seq}, 0, ${rows}, ${rows})`,
  );
  await store.maintain();
}
