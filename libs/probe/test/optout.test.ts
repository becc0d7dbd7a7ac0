/** The opt-out list: parsing with typed per-line errors, and matching. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { matchOptOut, parseOptOutList } from "../src/index.ts";

const text = `
# a comment
192.0.2.25            # one address
198.51.100.0/24
2001:db8:1::/48
2001:db8::25
Example.NET.
host:mx1.example.org
domain:example.com
bücher.example
bad:thing
host:not a name
999.1.1.1
10.0.0.0/33
10.0.0.0/8/9
-bad-.example
`;

test("good lines form the list, bad lines are reported with line number and code", () => {
  const { list, errors } = parseOptOutList(text);
  assert.deepEqual(errors, [
    { line: 11, error: "invalid-address", text: "bad:thing" },
    { line: 12, error: "invalid-name", text: "host:not a name" },
    { line: 13, error: "invalid-address", text: "999.1.1.1" },
    { line: 14, error: "invalid-cidr", text: "10.0.0.0/33" },
    { line: 15, error: "invalid-cidr", text: "10.0.0.0/8/9" },
    { line: 16, error: "invalid-name", text: "-bad-.example" },
  ]);
  assert.equal(list.addresses.size, 2);
  assert.equal(list.nets.length, 2);
  assert.deepEqual([...list.names.keys()], ["example.net", "xn--bcher-kva.example"]);
  assert.deepEqual(parseOptOutList("mail:x.example").errors[0]!.error, "unknown-prefix");
  assert.deepEqual(parseOptOutList(undefined as unknown as string).errors, []);
});

test("matching addresses, networks, names, hosts and domains", () => {
  const { list } = parseOptOutList(text);
  const m = (t: Parameters<typeof matchOptOut>[1]) => matchOptOut(list, t);
  assert.deepEqual(m({ ip: "192.0.2.25" }), { kind: "address", entry: "192.0.2.25" });
  assert.deepEqual(m({ ip: "::ffff:192.0.2.25" }), { kind: "address", entry: "192.0.2.25" });
  assert.deepEqual(m({ ip: "198.51.100.200" }), { kind: "cidr", entry: "198.51.100.0/24" });
  assert.deepEqual(m({ ip: "2001:db8:1:ffff::1" }), { kind: "cidr", entry: "2001:db8:1::/48" });
  assert.deepEqual(m({ ip: "2001:0db8:0::25" }), { kind: "address", entry: "2001:db8::25" });
  assert.equal(m({ ip: "198.51.101.1" }), undefined);
  assert.equal(m({ ip: "2001:db8:2::1" }), undefined);
  // bare name: the name and everything under it, as MX host, SNI or domain
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.example.net" })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", sni: "EXAMPLE.NET." })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", domain: "a.b.example.net" })?.kind, "name");
  assert.equal(m({ ip: "8.8.8.8", mxHost: "notexample.net" }), undefined);
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.bücher.example" })?.entry, "bücher.example");
  // host: exact only
  assert.deepEqual(m({ ip: "8.8.8.8", mxHost: "MX1.example.org" }), {
    kind: "host",
    entry: "host:mx1.example.org",
  });
  assert.equal(m({ ip: "8.8.8.8", mxHost: "a.mx1.example.org" }), undefined);
  // domain: the mail domain and subdomains, not an MX host of that name
  assert.equal(m({ ip: "8.8.8.8", domain: "sub.example.com" })?.kind, "domain");
  assert.equal(m({ ip: "8.8.8.8", mxHost: "mx.example.com", domain: "other.org" }), undefined);
});

test("IPv4 carried in IPv6 is unwrapped on both sides: mapped, compatible, NAT64 (issue 11)", () => {
  const forms = (v4: string, hex: string) => [
    v4,
    `::ffff:${v4}`,
    `::ffff:${hex}`,
    `64:ff9b::${hex}`,
    `64:ff9b::${v4}`,
    `::${hex}`,
    `64:ff9b:1::${hex}`, // RFC 8215 local use, /96 position
  ];
  const written = forms("93.184.215.14", "5db8:d70e");
  for (const entry of written) {
    const { list, errors } = parseOptOutList(`${entry}\n`);
    assert.deepEqual(errors, [], entry);
    for (const target of written) {
      assert.deepEqual(
        matchOptOut(list, { ip: target }),
        { kind: "address", entry },
        `${entry} vs ${target}`,
      );
    }
    for (const other of forms("93.184.215.15", "5db8:d70f")) {
      assert.equal(matchOptOut(list, { ip: other }), undefined, `${entry} vs ${other}`);
    }
  }
  // the two cases, as filed
  const a = parseOptOutList("93.184.215.14\n").list;
  assert.equal(matchOptOut(a, { ip: "64:ff9b::5db8:d70e" })?.entry, "93.184.215.14");
  const b = parseOptOutList("::ffff:127.0.0.1\n").list;
  assert.equal(matchOptOut(b, { ip: "127.0.0.1" })?.entry, "::ffff:127.0.0.1");
  // NAT64 local use with a /48 prefix: the IPv4 bits straddle bits 64-71
  assert.equal(matchOptOut(a, { ip: "64:ff9b:1:5db8:d7:e00::" })?.entry, "93.184.215.14");
});

test("networks: an IPv4 network matches IPv6 forms; a narrower-than-/96 IPv6 form matches IPv4", () => {
  const { list, errors } = parseOptOutList(
    "198.51.100.0/24\n::ffff:192.0.2.0/120\n64:ff9b::203.0.113.0/123\n",
  );
  assert.deepEqual(errors, []);
  const m = (ip: string) => matchOptOut(list, { ip })?.entry;
  assert.equal(m("::ffff:198.51.100.7"), "198.51.100.0/24");
  assert.equal(m("64:ff9b::c633:6407"), "198.51.100.0/24");
  assert.equal(m("::198.51.100.7"), "198.51.100.0/24");
  assert.equal(m("192.0.2.200"), "::ffff:192.0.2.0/120");
  assert.equal(m("64:ff9b::192.0.2.200"), "::ffff:192.0.2.0/120");
  assert.equal(m("203.0.113.31"), "64:ff9b::203.0.113.0/123");
  assert.equal(m("203.0.113.32"), undefined);
  assert.equal(m("198.51.101.1"), undefined);
  // a /96 (or wider) IPv6 network names the IPv6 addresses only, never "all of IPv4"
  const wide = parseOptOutList("64:ff9b::/96\n::ffff:0:0/96\n").list;
  assert.equal(matchOptOut(wide, { ip: "64:ff9b::808:808" })?.entry, "64:ff9b::/96");
  assert.equal(matchOptOut(wide, { ip: "::ffff:8.8.8.8" })?.entry, "::ffff:0:0/96");
  assert.equal(matchOptOut(wide, { ip: "8.8.8.8" }), undefined);
});
